#pragma once
// A thin RAII layer over the OpenCL 1.2 C API (no cl.hpp): owning handles with
// retain/release, error checking that throws qs::Error naming the call and the
// error code, and device discovery with the capabilities the kernels need.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <CL/cl.h>

namespace qs::ocl {

/// "CL_OUT_OF_RESOURCES" etc. ("CL error <n>" when unknown).
std::string errorName(cl_int err);
/// Throws qs::Error("OpenCL: <what> failed: <errorName> (<err>)") when err != CL_SUCCESS.
void check(cl_int err, const char* what);

/// An owning reference to an OpenCL object (retained on copy, released on destruction).
template <class T, cl_int(CL_API_CALL* Retain)(T), cl_int(CL_API_CALL* Release)(T)>
class Handle {
public:
    Handle() = default;
    /// Takes ownership of `h` (one reference), e.g. from clCreate*.
    explicit Handle(T h) : h_(h) {}
    Handle(const Handle& o) : h_(o.h_) {
        if (h_) Retain(h_);
    }
    Handle(Handle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    Handle& operator=(Handle o) noexcept {
        std::swap(h_, o.h_);
        return *this;
    }
    ~Handle() {
        if (h_) Release(h_);
    }
    T get() const { return h_; }
    explicit operator bool() const { return h_ != nullptr; }

private:
    T h_ = nullptr;
};

using Context = Handle<cl_context, clRetainContext, clReleaseContext>;
using Queue = Handle<cl_command_queue, clRetainCommandQueue, clReleaseCommandQueue>;
using Program = Handle<cl_program, clRetainProgram, clReleaseProgram>;
using Kernel = Handle<cl_kernel, clRetainKernel, clReleaseKernel>;
using Buffer = Handle<cl_mem, clRetainMemObject, clReleaseMemObject>;

/// One device of one platform, with what the kernels need to know.
struct DeviceInfo {
    cl_platform_id platform = nullptr;
    cl_device_id device = nullptr;
    int platformIndex = -1, deviceIndex = -1;  // QUANTSCOPE_OPENCL_DEVICE=platform:device
    std::string platformName, deviceName, deviceVersion, openclCVersion, extensions;
    cl_device_type type = 0;
    bool fp64 = false;               // cl_khr_fp64 (or an OpenCL 1.2 double FP config)
    bool fp32Denorms = false;        // CL_FP_DENORM in CL_DEVICE_SINGLE_FP_CONFIG
    bool fp32CorrectDivide = false;  // CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT
    bool openclC12 = false;          // OpenCL C >= 1.2
    size_t maxWorkGroupSize = 1;
    cl_ulong localMemBytes = 0, globalMemBytes = 0, maxAllocBytes = 0;

    /// "0:0 <device> (<platform>, GPU)"
    std::string label() const;
    std::string typeName() const;  // "GPU", "CPU", "accelerator", ...
};

/// Every device of every platform, platforms and devices in the order the ICD
/// loader reports them. Empty when no platform is installed
/// (CL_PLATFORM_NOT_FOUND_KHR); other errors throw qs::Error.
std::vector<DeviceInfo> listDevices();

/// Queries one device (indices as given).
DeviceInfo queryDevice(cl_platform_id p, cl_device_id d, int platformIndex, int deviceIndex);

/// A context and an in-order queue on one device.
struct DeviceContext {
    DeviceInfo info;
    Context context;
    Queue queue;
};
DeviceContext createContext(const DeviceInfo& d);
/// The process-wide context + queue of a device (created on first use, kept for
/// the life of the process), so that backends on the same device share the
/// ProgramCache's built programs.
DeviceContext sharedContext(const DeviceInfo& d);

/// Device buffer of `bytes`; with `host` non-null it is copied from there.
Buffer createBuffer(const DeviceContext& c, cl_mem_flags flags, size_t bytes, const void* host = nullptr);

/// Sets kernel argument `i` (a value), throwing with the kernel name on error.
template <class T>
void setArg(const Kernel& k, cl_uint i, const T& v) {
    check(clSetKernelArg(k.get(), i, sizeof(T), &v), "clSetKernelArg");
}
inline void setArg(const Kernel& k, cl_uint i, const Buffer& b) {
    cl_mem m = b.get();
    check(clSetKernelArg(k.get(), i, sizeof(cl_mem), &m), "clSetKernelArg(buffer)");
}
/// A __local argument of `bytes`.
inline void setLocalArg(const Kernel& k, cl_uint i, size_t bytes) {
    check(clSetKernelArg(k.get(), i, bytes, nullptr), "clSetKernelArg(local)");
}

}  // namespace qs::ocl
