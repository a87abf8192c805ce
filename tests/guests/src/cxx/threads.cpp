// Threads from C++ and OpenMP: the second multi-call binary, bin/ARCH/xthreads
// (argv[1] names the program, as in xtest). Output holds no ids or timings.
//   stdthread  std::thread + std::mutex counter; thread_local constructors
//              and destructors; thread ids
//   async      std::async, std::future, std::promise, std::packaged_task;
//              exceptions passed through a future
//   condition  std::condition_variable ping-pong, 1000 times; wait_for; notify_all
//   openmp     parallel for with a reduction over 1..1000000 on 4 threads
#include <omp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<int> constructed{0}, destroyed{0};

struct Tracker {
    int value = 5;
    Tracker() { constructed++; }
    ~Tracker() { destroyed++; }
};

thread_local Tracker tracker;

int stdthread_main(int, char **) {
    std::mutex lock;
    long counter = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; t++)
        threads.emplace_back([&] {
            for (int i = 0; i < 20000; i++) {
                std::lock_guard<std::mutex> hold(lock);
                counter++;
            }
        });
    for (auto &thread : threads)
        thread.join();
    std::printf("stdthread: 8 threads x 20000 increments = %ld exact=%d\n", counter,
                counter == 160000);

    const auto main_id = std::this_thread::get_id();
    std::vector<int> values(4);
    bool others_differ = true;
    threads.clear();
    for (int t = 0; t < 4; t++)
        threads.emplace_back([&, t] {
            tracker.value += t;     // the first use constructs this thread's copy
            values[t] = tracker.value;
            if (std::this_thread::get_id() == main_id)
                others_differ = false;
        });
    for (auto &thread : threads)
        thread.join();
    std::printf("thread_local: values %d %d %d %d constructed=%d destroyed=%d\n", values[0],
                values[1], values[2], values[3], constructed.load(), destroyed.load());
    std::printf("thread ids differ from main's=%d joinable after join=%d\n", others_differ,
                threads[0].joinable());
    std::printf("hardware_concurrency>=1: %d\n", std::thread::hardware_concurrency() >= 1);
    return 0;
}

int async_main(int, char **) {
    auto answer = std::async(std::launch::async, [] { return 6 * 7; });
    std::printf("async: %d\n", answer.get());

    auto thrower = std::async(std::launch::async, []() -> int {
        throw std::runtime_error("thrown in another thread");
    });
    try {
        thrower.get();
        std::printf("exception: not passed\n");
    } catch (const std::runtime_error &e) {
        std::printf("exception through a future: %s\n", e.what());
    }

    const auto main_id = std::this_thread::get_id();
    auto deferred = std::async(std::launch::deferred,
                               [&] { return std::this_thread::get_id() == main_id; });
    std::printf("deferred runs in the caller: %d\n", deferred.get());

    std::promise<std::string> promise;
    auto from_promise = promise.get_future();
    std::promise<void> go;
    auto started = go.get_future();
    std::thread setter([&] {
        started.wait();
        promise.set_value("set by another thread");
    });
    auto status = from_promise.wait_for(std::chrono::milliseconds(20));
    std::printf("wait_for before it is set: %s\n",
                status == std::future_status::timeout ? "timeout" : "ready");
    go.set_value();
    std::printf("promise: %s\n", from_promise.get().c_str());
    setter.join();

    std::promise<int> failing;
    auto failed = failing.get_future();
    std::thread breaker([&] {
        try {
            throw std::logic_error("stored in a promise");
        } catch (...) {
            failing.set_exception(std::current_exception());
        }
    });
    try {
        failed.get();
    } catch (const std::logic_error &e) {
        std::printf("promise exception: %s\n", e.what());
    }
    breaker.join();

    std::packaged_task<long(long)> task([](long n) { return n * n; });
    auto squared = task.get_future();
    std::thread(std::move(task), 12L).join();
    std::printf("packaged_task: %ld\n", squared.get());

    std::vector<std::future<long>> parts;
    for (long p = 0; p < 16; p++)
        parts.push_back(std::async(std::launch::async, [p] {
            long sum = 0;
            for (long i = p * 1000 + 1; i <= (p + 1) * 1000; i++)
                sum += i;
            return sum;
        }));
    long total = 0;
    for (auto &part : parts)
        total += part.get();
    std::printf("16 async parts of 1..16000: %ld expected=%ld\n", total, 16000L * 16001 / 2);

    std::promise<int> abandoned;
    auto orphan = abandoned.get_future();
    { std::promise<int> gone = std::move(abandoned); }
    try {
        orphan.get();
    } catch (const std::future_error &e) {
        std::printf("broken promise: %d\n", e.code() == std::future_errc::broken_promise);
    }
    return 0;
}

int condition_main(int, char **) {
    std::mutex lock;
    std::condition_variable changed;
    int ball = 0;               // odd: pong's turn; even: ping's
    bool in_order = true;
    auto player = [&](int parity) {
        for (int i = 0; i < 1000; i++) {
            std::unique_lock<std::mutex> hold(lock);
            changed.wait(hold, [&] { return ball % 2 == parity; });
            if (ball != 2 * i + parity)
                in_order = false;
            ball++;
            changed.notify_one();
        }
    };
    std::thread ping(player, 0), pong(player, 1);
    ping.join();
    pong.join();
    std::printf("condition: ping-pong 1000 times: ball=%d in order=%d\n", ball, in_order);

    std::unique_lock<std::mutex> hold(lock);
    auto status = changed.wait_for(hold, std::chrono::milliseconds(20));
    hold.unlock();
    std::printf("wait_for with no notify: %s\n",
                status == std::cv_status::timeout ? "timeout" : "no_timeout");

    int waiting = 0, woken = 0;
    bool go = false;
    std::vector<std::thread> waiters;
    for (int t = 0; t < 4; t++)
        waiters.emplace_back([&] {
            std::unique_lock<std::mutex> mine(lock);
            waiting++;
            changed.notify_all();
            changed.wait(mine, [&] { return go; });
            woken++;
        });
    hold.lock();
    changed.wait(hold, [&] { return waiting == 4; });
    go = true;
    changed.notify_all();
    hold.unlock();
    for (auto &waiter : waiters)
        waiter.join();
    std::printf("notify_all: waiting=%d woken=%d\n", waiting, woken);
    return 0;
}

int openmp_main(int, char **) {
    omp_set_num_threads(4);
    long long sum = 0;
#pragma omp parallel for reduction(+ : sum)
    for (long i = 1; i <= 1000000; i++)
        sum += i;
    std::printf("openmp: sum of 1..1000000 = %lld expected=%lld\n", sum, 1000000LL * 1000001 / 2);
    std::printf("omp_get_max_threads()==4: %d\n", omp_get_max_threads() == 4);

    int team = 0, seen = 0, critical = 0;
    std::atomic<int> atomic_count{0};
#pragma omp parallel
    {
#pragma omp single
        team = omp_get_num_threads();
#pragma omp atomic
        seen |= 1 << omp_get_thread_num();
        for (int i = 0; i < 1000; i++) {
#pragma omp critical
            critical++;
            atomic_count++;
        }
#pragma omp barrier
    }
    std::printf("team=%d thread numbers seen=%#x critical=%d atomic=%d\n", team, seen, critical,
                atomic_count.load());

    double dot = 0;
    std::vector<double> a(4096), b(4096);
    for (int i = 0; i < 4096; i++) {
        a[i] = i * 0.5;
        b[i] = 2.0;
    }
#pragma omp parallel for reduction(+ : dot) schedule(static, 64)
    for (int i = 0; i < 4096; i++)
        dot += a[i] * b[i];
    std::printf("dot product: %.1f\n", dot);
    return 0;
}

struct Program {
    const char *name;
    int (*main)(int, char **);
};

const Program programs[] = {
    {"stdthread", stdthread_main},
    {"async", async_main},
    {"condition", condition_main},
    {"openmp", openmp_main},
};

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s PROGRAM [ARGS...]\n", argv[0]);
        return 2;
    }
    for (const auto &program : programs)
        if (std::strcmp(program.name, argv[1]) == 0)
            return program.main(argc - 1, argv + 1);
    std::fprintf(stderr, "%s: no program named %s\n", argv[0], argv[1]);
    return 127;
}
