# bench_opencl: the OpenCL kernels vs the CPU path (included from the top-level
# CMakeLists.txt after bench/, so bench/CMakeLists.txt stays as it is).
add_executable(bench_opencl ${PROJECT_SOURCE_DIR}/bench/bench_opencl.cpp)
target_link_libraries(bench_opencl PRIVATE quantscope_bench_common quantscope_opencl quantscope_core quantscope_warnings)
# default --out is bench/results/opencl_ops.json in the source tree
target_compile_definitions(bench_opencl PRIVATE QS_BENCH_DIR="${PROJECT_SOURCE_DIR}/bench")
