/* Clocks and sleeps: values are checked here, so the output is stable. */
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

int timing_main(int argc, char **argv) {
    (void)argc; (void)argv;
    struct timespec a, b, res;
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct timespec nap = {0, 20 * 1000 * 1000};
    nanosleep(&nap, NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double slept = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    printf("slept at least 20ms: %d\n", slept >= 0.02);
    printf("slept under 2s: %d\n", slept < 2.0);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    time_t now = time(NULL);
    printf("time agrees: %d\n", now - tv.tv_sec <= 1 && now > 1700000000);
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    printf("realtime agrees: %d\n", rt.tv_sec - now <= 1 && rt.tv_sec >= now);
    printf("getres ok: %d\n", clock_getres(CLOCK_MONOTONIC, &res) == 0
           && res.tv_sec == 0 && res.tv_nsec > 0);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += 5 * 1000 * 1000;
    if (until.tv_nsec >= 1000000000) { until.tv_sec++; until.tv_nsec -= 1000000000; }
    printf("clock_nanosleep abs: %d\n",
           clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == 0);
    struct tm tm;
    time_t fixed = 1000000000;
    gmtime_r(&fixed, &tm);
    char text[64];
    strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
    printf("gmtime=%s\n", text);
    return 0;
}
