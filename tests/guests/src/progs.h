/* Every test program is a function `NAME_main`; main.c dispatches on argv[1]
 * like busybox, so one static binary per arch carries them all. */
#define PROGRAMS(X) X(hello) X(argv0) X(fileio) X(dirs) X(cat) X(floats) \
    X(strings) X(memory) X(timing) X(proc) X(segv) X(abort) X(badsys) X(simd) X(itblock) X(sharedfile) X(sharedbus) X(trap) X(divzero) X(jump0) X(rowrite) X(unaligned) X(hog) X(recurse) X(bigio) X(spin) X(jail) \
    X(forkwait) X(pipes) X(execself) X(script) X(noexec) X(vfork) X(groups) X(chain) X(waitid) X(runprog) \
    X(sighandler) X(sigmask) X(sigpending) X(alarmpause) X(restart) X(sigchld) X(sigpipe) \
    X(rtqueue) X(segvjmp) X(altstack) X(autodisarm) X(fpsignal) X(deaths) X(waitsig) \
    X(procself) X(modes) \
    X(mutexcount) X(atomiccount) X(condvar) X(barrier) X(tls) X(threadexit) X(pthreadkill) \
    X(procsignal) X(detached) X(manythreads) X(mainexit) X(robust) X(futexops) X(affinity) \
    X(tasklist) X(threadfork) X(threadexec) X(fdevents) X(pipethreads) \
    X(identity) X(owners) X(filetimes) X(fsinfo) X(transfer) X(resources) \
    X(tcpecho) X(tcpthreads) X(udpecho) X(unixfd) X(sigfd) X(ptimers) X(inotify) X(vforkfork) X(straddle) X(terminal) X(sysvipc) X(ifaddrs) X(kuser) X(pidfds) X(privileged) X(fastcalls) X(fromparent) X(vecsignal)
#define DECLARE(name) int name##_main(int argc, char **argv);
PROGRAMS(DECLARE)
