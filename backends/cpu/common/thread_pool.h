// A fixed pool of worker threads for CPU kernels.
// run(fn) calls fn(thread_index, num_threads) once on every thread (the
// caller is thread 0) and returns when all are done. Workers spin briefly
// after a job before sleeping, so back-to-back ops (a decode step) pay no
// wake-up latency. A call made from inside a job runs serially (nesting).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rma::cpu {

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return num_threads_; }
  void run(const std::function<void(int thread, int num_threads)>& fn);

  // Splits [0, n) into contiguous chunks of at least `grain` items, one or
  // more per thread, and calls fn(begin, end) for each.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void worker(int index);

  int num_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  // Published before generation_ moves, so that a spinning worker that sees
  // the new generation takes the job without touching the mutex.
  std::atomic<const std::function<void(int, int)>*> job_{nullptr};
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex run_mu_;  // one job at a time
};

}  // namespace rma::cpu
