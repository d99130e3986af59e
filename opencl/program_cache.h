#pragma once
// Kernel sources (embedded Qt resources, resources/opencl/*.cl -> ":/opencl/NAME")
// and the program cache: a program is built once per (context, device, source,
// build options) for the life of the process; a failed build is remembered too
// and throws the same qs::Error again (its message carries the build log).
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include <QByteArray>
#include <QString>

#include "opencl/clwrap.h"

namespace qs::ocl {

/// The text of ":/opencl/<name>" (e.g. "quantize.cl"); throws qs::Error when the
/// resource is missing.
QByteArray kernelSource(const QString& name);

class ProgramCache {
public:
    static ProgramCache& instance();

    /// The built program for `source` with `options` on `c`'s device. `name` is
    /// used in messages only. A build failure throws qs::Error:
    ///   "OpenCL: building <name> for <device> (options '<options>') failed: <code>\n
    ///    build log:\n<log>"
    Program get(const DeviceContext& c, const std::string& name, const QByteArray& source, const std::string& options);

    /// How many clBuildProgram calls this cache has made (failed ones included).
    int64_t builds() const;
    /// Drops every cached program (and the contexts they keep alive).
    void clear();

private:
    using Key = std::tuple<cl_context, cl_device_id, QByteArray, std::string>;  // source hash, options
    struct Entry {
        Program program;
        std::string error;  // non-empty: the build failed with this message
    };
    mutable std::mutex m_;
    std::map<Key, Entry> entries_;
    int64_t builds_ = 0;
};

/// Creates kernel `name` of a built program; throws qs::Error.
Kernel createKernel(const Program& p, const char* name);

}  // namespace qs::ocl
