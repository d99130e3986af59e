#pragma once
// A unit of long-running work reports progress (fraction + message) and checks a
// cancel token. CLI and GUI run the same jobs; the CLI prints progress to stderr,
// the GUI shows a progress bar.
#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "util/error.h"

namespace qs {

class CancelToken {
public:
    void cancel() { flag_->store(true, std::memory_order_relaxed); }
    bool cancelled() const { return flag_->load(std::memory_order_relaxed); }
    /// Throws qs::Cancelled when cancellation was requested.
    void check() const {
        if (cancelled()) throw Cancelled();
    }

private:
    std::shared_ptr<std::atomic<bool>> flag_ = std::make_shared<std::atomic<bool>>(false);
};

/// Progress callback: fraction in [0, 1] and a short message.
using ProgressFn = std::function<void(double fraction, const std::string& message)>;

struct JobContext {
    ProgressFn progress;     // may be empty
    CancelToken cancel;
    void report(double f, const std::string& msg) const {
        if (progress) progress(f, msg);
    }
    void check() const { cancel.check(); }
    /// A context for one stage of this job: its fractions map onto [lo, hi] of
    /// this one, its messages get `prefix` (when not empty); same cancel token.
    JobContext sub(double lo, double hi, const std::string& prefix = {}) const {
        JobContext c;
        c.cancel = cancel;
        if (progress)
            c.progress = [p = progress, lo, hi, prefix](double f, const std::string& m) {
                p(lo + f * (hi - lo), prefix.empty() ? m : prefix + m);
            };
        return c;
    }
};

}  // namespace qs
