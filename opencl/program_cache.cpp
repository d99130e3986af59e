#include "opencl/program_cache.h"

#include <QCryptographicHash>
#include <QFile>

#include "util/error.h"

// The kernels are a Qt resource of this static library (qt_add_resources in
// opencl/CMakeLists.txt, resource name quantscope_opencl_kernels); make sure its
// initializer runs even when the linker would drop the object.
static void initKernelResources() {
    Q_INIT_RESOURCE(quantscope_opencl_kernels);
}

namespace qs::ocl {

QByteArray kernelSource(const QString& name) {
    static std::once_flag once;
    std::call_once(once, initKernelResources);
    QFile f(QStringLiteral(":/opencl/") + name);
    if (!f.open(QIODevice::ReadOnly))
        throw Error("OpenCL: kernel source :/opencl/" + name.toStdString() +
                    " is missing from the embedded resources (resources/opencl/*.cl)");
    return f.readAll();
}

ProgramCache& ProgramCache::instance() {
    static ProgramCache c;
    return c;
}

namespace {

std::string buildLog(cl_program p, cl_device_id d) {
    size_t n = 0;
    if (clGetProgramBuildInfo(p, d, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n) != CL_SUCCESS || n == 0) return {};
    std::string s(n, '\0');
    if (clGetProgramBuildInfo(p, d, CL_PROGRAM_BUILD_LOG, n, s.data(), nullptr) != CL_SUCCESS) return {};
    while (!s.empty() && (s.back() == '\0' || s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

Program ProgramCache::get(const DeviceContext& c, const std::string& name, const QByteArray& source,
                          const std::string& options) {
    const QByteArray hash = QCryptographicHash::hash(source, QCryptographicHash::Sha256);
    const Key key{c.context.get(), c.info.device, hash, options};
    std::lock_guard<std::mutex> lock(m_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
        if (!it->second.error.empty()) throw Error(it->second.error);
        return it->second.program;
    }

    Entry e;
    const char* src = source.constData();
    const size_t len = size_t(source.size());
    cl_int err = CL_SUCCESS;
    Program p(clCreateProgramWithSource(c.context.get(), 1, &src, &len, &err));
    if (err != CL_SUCCESS) {
        e.error = "OpenCL: creating program " + name + " failed: " + errorName(err);
    } else {
        cl_device_id dev = c.info.device;
        ++builds_;
        err = clBuildProgram(p.get(), 1, &dev, options.c_str(), nullptr, nullptr);
        if (err != CL_SUCCESS) {
            const std::string log = buildLog(p.get(), dev);
            e.error = "OpenCL: building " + name + " for " + c.info.label() + " (options '" + options +
                      "') failed: " + errorName(err) + "\nbuild log:\n" + (log.empty() ? "(empty)" : log);
        } else {
            e.program = p;
        }
    }
    entries_.emplace(key, e);
    if (!e.error.empty()) throw Error(e.error);
    return e.program;
}

int64_t ProgramCache::builds() const {
    std::lock_guard<std::mutex> lock(m_);
    return builds_;
}

void ProgramCache::clear() {
    std::lock_guard<std::mutex> lock(m_);
    entries_.clear();
}

Kernel createKernel(const Program& p, const char* name) {
    cl_int err = CL_SUCCESS;
    Kernel k(clCreateKernel(p.get(), name, &err));
    check(err, (std::string("clCreateKernel(") + name + ")").c_str());
    return k;
}

}  // namespace qs::ocl
