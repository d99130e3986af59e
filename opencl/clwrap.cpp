#include "opencl/clwrap.h"

#include <cstdio>
#include <map>
#include <mutex>

#include "util/error.h"

#ifndef CL_PLATFORM_NOT_FOUND_KHR
#define CL_PLATFORM_NOT_FOUND_KHR -1001
#endif

namespace qs::ocl {

std::string errorName(cl_int err) {
    switch (err) {
#define QS_CL_ERR(e) \
    case e: return #e;
        QS_CL_ERR(CL_SUCCESS)
        QS_CL_ERR(CL_DEVICE_NOT_FOUND)
        QS_CL_ERR(CL_DEVICE_NOT_AVAILABLE)
        QS_CL_ERR(CL_COMPILER_NOT_AVAILABLE)
        QS_CL_ERR(CL_MEM_OBJECT_ALLOCATION_FAILURE)
        QS_CL_ERR(CL_OUT_OF_RESOURCES)
        QS_CL_ERR(CL_OUT_OF_HOST_MEMORY)
        QS_CL_ERR(CL_PROFILING_INFO_NOT_AVAILABLE)
        QS_CL_ERR(CL_MEM_COPY_OVERLAP)
        QS_CL_ERR(CL_IMAGE_FORMAT_MISMATCH)
        QS_CL_ERR(CL_IMAGE_FORMAT_NOT_SUPPORTED)
        QS_CL_ERR(CL_BUILD_PROGRAM_FAILURE)
        QS_CL_ERR(CL_MAP_FAILURE)
        QS_CL_ERR(CL_MISALIGNED_SUB_BUFFER_OFFSET)
        QS_CL_ERR(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
        QS_CL_ERR(CL_COMPILE_PROGRAM_FAILURE)
        QS_CL_ERR(CL_LINKER_NOT_AVAILABLE)
        QS_CL_ERR(CL_LINK_PROGRAM_FAILURE)
        QS_CL_ERR(CL_DEVICE_PARTITION_FAILED)
        QS_CL_ERR(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
        QS_CL_ERR(CL_INVALID_VALUE)
        QS_CL_ERR(CL_INVALID_DEVICE_TYPE)
        QS_CL_ERR(CL_INVALID_PLATFORM)
        QS_CL_ERR(CL_INVALID_DEVICE)
        QS_CL_ERR(CL_INVALID_CONTEXT)
        QS_CL_ERR(CL_INVALID_QUEUE_PROPERTIES)
        QS_CL_ERR(CL_INVALID_COMMAND_QUEUE)
        QS_CL_ERR(CL_INVALID_HOST_PTR)
        QS_CL_ERR(CL_INVALID_MEM_OBJECT)
        QS_CL_ERR(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
        QS_CL_ERR(CL_INVALID_IMAGE_SIZE)
        QS_CL_ERR(CL_INVALID_SAMPLER)
        QS_CL_ERR(CL_INVALID_BINARY)
        QS_CL_ERR(CL_INVALID_BUILD_OPTIONS)
        QS_CL_ERR(CL_INVALID_PROGRAM)
        QS_CL_ERR(CL_INVALID_PROGRAM_EXECUTABLE)
        QS_CL_ERR(CL_INVALID_KERNEL_NAME)
        QS_CL_ERR(CL_INVALID_KERNEL_DEFINITION)
        QS_CL_ERR(CL_INVALID_KERNEL)
        QS_CL_ERR(CL_INVALID_ARG_INDEX)
        QS_CL_ERR(CL_INVALID_ARG_VALUE)
        QS_CL_ERR(CL_INVALID_ARG_SIZE)
        QS_CL_ERR(CL_INVALID_KERNEL_ARGS)
        QS_CL_ERR(CL_INVALID_WORK_DIMENSION)
        QS_CL_ERR(CL_INVALID_WORK_GROUP_SIZE)
        QS_CL_ERR(CL_INVALID_WORK_ITEM_SIZE)
        QS_CL_ERR(CL_INVALID_GLOBAL_OFFSET)
        QS_CL_ERR(CL_INVALID_EVENT_WAIT_LIST)
        QS_CL_ERR(CL_INVALID_EVENT)
        QS_CL_ERR(CL_INVALID_OPERATION)
        QS_CL_ERR(CL_INVALID_GL_OBJECT)
        QS_CL_ERR(CL_INVALID_BUFFER_SIZE)
        QS_CL_ERR(CL_INVALID_MIP_LEVEL)
        QS_CL_ERR(CL_INVALID_GLOBAL_WORK_SIZE)
        QS_CL_ERR(CL_INVALID_PROPERTY)
        QS_CL_ERR(CL_INVALID_IMAGE_DESCRIPTOR)
        QS_CL_ERR(CL_INVALID_COMPILER_OPTIONS)
        QS_CL_ERR(CL_INVALID_LINKER_OPTIONS)
        QS_CL_ERR(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef QS_CL_ERR
    case CL_PLATFORM_NOT_FOUND_KHR: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: return "CL error " + std::to_string(err);
    }
}

void check(cl_int err, const char* what) {
    if (err == CL_SUCCESS) return;
    throw Error("OpenCL: " + std::string(what) + " failed: " + errorName(err) + " (" + std::to_string(err) + ")");
}

namespace {

std::string platformString(cl_platform_id p, cl_platform_info what) {
    size_t n = 0;
    if (clGetPlatformInfo(p, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return {};
    std::string s(n, '\0');
    if (clGetPlatformInfo(p, what, n, s.data(), nullptr) != CL_SUCCESS) return {};
    while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
    return s;
}

std::string deviceString(cl_device_id d, cl_device_info what) {
    size_t n = 0;
    if (clGetDeviceInfo(d, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return {};
    std::string s(n, '\0');
    if (clGetDeviceInfo(d, what, n, s.data(), nullptr) != CL_SUCCESS) return {};
    while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
    return s;
}

template <class T>
T deviceValue(cl_device_id d, cl_device_info what, T fallback) {
    T v{};
    if (clGetDeviceInfo(d, what, sizeof(T), &v, nullptr) != CL_SUCCESS) return fallback;
    return v;
}

bool hasWord(const std::string& list, const std::string& word) {
    size_t pos = 0;
    while ((pos = list.find(word, pos)) != std::string::npos) {
        const bool startOk = pos == 0 || list[pos - 1] == ' ';
        const size_t end = pos + word.size();
        const bool endOk = end == list.size() || list[end] == ' ';
        if (startOk && endOk) return true;
        pos = end;
    }
    return false;
}

// "OpenCL C 1.2 ..." -> true when >= 1.2
bool cVersionAtLeast12(const std::string& v) {
    int major = 0, minor = 0;
    if (std::sscanf(v.c_str(), "OpenCL C %d.%d", &major, &minor) != 2) return false;
    return major > 1 || (major == 1 && minor >= 2);
}

}  // namespace

std::string DeviceInfo::typeName() const {
    if (type & CL_DEVICE_TYPE_GPU) return "GPU";
    if (type & CL_DEVICE_TYPE_CPU) return "CPU";
    if (type & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
    return "other";
}

std::string DeviceInfo::label() const {
    return std::to_string(platformIndex) + ":" + std::to_string(deviceIndex) + " " + deviceName + " (" + platformName +
           ", " + typeName() + ")";
}

DeviceInfo queryDevice(cl_platform_id p, cl_device_id d, int platformIndex, int deviceIndex) {
    DeviceInfo i;
    i.platform = p;
    i.device = d;
    i.platformIndex = platformIndex;
    i.deviceIndex = deviceIndex;
    i.platformName = platformString(p, CL_PLATFORM_NAME);
    i.deviceName = deviceString(d, CL_DEVICE_NAME);
    i.deviceVersion = deviceString(d, CL_DEVICE_VERSION);
    i.openclCVersion = deviceString(d, CL_DEVICE_OPENCL_C_VERSION);
    i.extensions = deviceString(d, CL_DEVICE_EXTENSIONS);
    i.type = deviceValue<cl_device_type>(d, CL_DEVICE_TYPE, 0);
    const cl_device_fp_config sp = deviceValue<cl_device_fp_config>(d, CL_DEVICE_SINGLE_FP_CONFIG, 0);
    const cl_device_fp_config dp = deviceValue<cl_device_fp_config>(d, CL_DEVICE_DOUBLE_FP_CONFIG, 0);
    i.fp64 = hasWord(i.extensions, "cl_khr_fp64") || dp != 0;
    i.fp32Denorms = (sp & CL_FP_DENORM) != 0;
    i.fp32CorrectDivide = (sp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0;
    i.openclC12 = cVersionAtLeast12(i.openclCVersion);
    i.maxWorkGroupSize = deviceValue<size_t>(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, 1);
    i.localMemBytes = deviceValue<cl_ulong>(d, CL_DEVICE_LOCAL_MEM_SIZE, 0);
    i.globalMemBytes = deviceValue<cl_ulong>(d, CL_DEVICE_GLOBAL_MEM_SIZE, 0);
    i.maxAllocBytes = deviceValue<cl_ulong>(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, 0);
    return i;
}

std::vector<DeviceInfo> listDevices() {
    std::vector<DeviceInfo> out;
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(0, nullptr, &np);
    if (err == CL_PLATFORM_NOT_FOUND_KHR || (err == CL_SUCCESS && np == 0)) return out;
    check(err, "clGetPlatformIDs");
    std::vector<cl_platform_id> ps(np);
    check(clGetPlatformIDs(np, ps.data(), nullptr), "clGetPlatformIDs");
    for (cl_uint pi = 0; pi < np; ++pi) {
        cl_uint nd = 0;
        err = clGetDeviceIDs(ps[pi], CL_DEVICE_TYPE_ALL, 0, nullptr, &nd);
        if (err == CL_DEVICE_NOT_FOUND || nd == 0) continue;  // a platform without devices
        check(err, "clGetDeviceIDs");
        std::vector<cl_device_id> ds(nd);
        check(clGetDeviceIDs(ps[pi], CL_DEVICE_TYPE_ALL, nd, ds.data(), nullptr), "clGetDeviceIDs");
        for (cl_uint di = 0; di < nd; ++di) out.push_back(queryDevice(ps[pi], ds[di], int(pi), int(di)));
    }
    return out;
}

DeviceContext createContext(const DeviceInfo& d) {
    DeviceContext c;
    c.info = d;
    const cl_context_properties props[] = {CL_CONTEXT_PLATFORM, reinterpret_cast<cl_context_properties>(d.platform), 0};
    cl_int err = CL_SUCCESS;
    cl_device_id dev = d.device;
    c.context = Context(clCreateContext(props, 1, &dev, nullptr, nullptr, &err));
    check(err, "clCreateContext");
    // clCreateCommandQueue is deprecated in 2.0 but is the 1.2 entry point.
    c.queue = Queue(clCreateCommandQueue(c.context.get(), dev, 0, &err));
    check(err, "clCreateCommandQueue");
    return c;
}

DeviceContext sharedContext(const DeviceInfo& d) {
    static std::mutex m;
    static std::map<cl_device_id, DeviceContext> contexts;
    std::lock_guard<std::mutex> lock(m);
    auto it = contexts.find(d.device);
    if (it == contexts.end()) it = contexts.emplace(d.device, createContext(d)).first;
    DeviceContext c = it->second;
    c.info = d;  // the caller's indices
    return c;
}

Buffer createBuffer(const DeviceContext& c, cl_mem_flags flags, size_t bytes, const void* host) {
    cl_int err = CL_SUCCESS;
    if (bytes == 0) host = nullptr;
    if (host) flags |= CL_MEM_COPY_HOST_PTR;
    // A zero-sized buffer is invalid; callers never launch on empty data, but keep
    // the handle valid.
    Buffer b(clCreateBuffer(c.context.get(), flags, bytes == 0 ? 1 : bytes, const_cast<void*>(host), &err));
    check(err, "clCreateBuffer");
    return b;
}

}  // namespace qs::ocl
