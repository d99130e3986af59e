#pragma once
// Thread configuration shared by all compute code (Eigen GEMMs and OpenMP loops).
namespace qs {
/// 0 = all hardware threads.
void setThreads(int n);
int threads();
}  // namespace qs
