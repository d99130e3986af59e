#include "compute/threads.h"

#include <thread>

#include <Eigen/Core>
#include <omp.h>

namespace qs {

static int g_threads = 0;

void setThreads(int n) {
    if (n <= 0) n = int(std::max(1u, std::thread::hardware_concurrency()));
    g_threads = n;
    omp_set_num_threads(n);
    Eigen::setNbThreads(n);
}

int threads() {
    if (g_threads <= 0) setThreads(0);
    return g_threads;
}

}  // namespace qs
