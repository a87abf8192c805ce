// A dynamically linked C++ program: what the dynamic loader, libc.so and
// libstdc++.so need from the emulator (argv[1] names the part, as in xtest).
// Output holds no addresses, so it is the same on every arch.
//   hello      printf through libc.so; argv; the exit status
//   auxv       AT_BASE (the loader's address), AT_ENTRY (the program's),
//              AT_PHDR, AT_EXECFN
//   libraries  dl_iterate_phdr: the objects loaded, by name
//   dlopen     libm.so.6 opened at run time, cos() looked up by name
//   exception  a C++ exception thrown through libstdc++'s unwinder
//   thread     a std::thread and thread_local storage in a shared library
//   maps       /proc/self/maps lists libc.so.6 and the loader
#include <dlfcn.h>
#include <link.h>
#include <sys/auxv.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

extern "C" void _start();

namespace {

int hello(int argc, char **argv) {
    std::printf("hello from a dynamic program, argc=%d argv[1]=%s\n", argc, argv[1]);
    return 7;
}

int auxv(int, char **) {
    unsigned long base = getauxval(AT_BASE), entry = getauxval(AT_ENTRY);
    auto phdr = reinterpret_cast<const ElfW(Phdr) *>(getauxval(AT_PHDR));
    bool dynamic = false;
    for (unsigned long i = 0; phdr && i < getauxval(AT_PHNUM); i++)
        dynamic = dynamic || phdr[i].p_type == PT_DYNAMIC;
    const char *execfn = reinterpret_cast<const char *>(getauxval(AT_EXECFN));
    std::printf("AT_BASE set: %s\n", base ? "yes" : "no");
    std::printf("AT_ENTRY is _start: %s\n",
                entry == reinterpret_cast<unsigned long>(&_start) ? "yes" : "no");
    std::printf("AT_PHDR lists PT_DYNAMIC: %s\n", dynamic ? "yes" : "no");
    std::printf("AT_EXECFN ends in dynamic: %s\n",
                execfn && std::strstr(execfn, "dynamic") ? "yes" : "no");
    return 0;
}

int one_object(struct dl_phdr_info *info, size_t, void *data) {
    std::string name = info->dlpi_name;
    auto slash = name.rfind('/');
    if (slash != std::string::npos) name = name.substr(slash + 1);
    // linux-vdso and the program itself have no name worth comparing
    if (name.find("libc.so") == 0 || name.find("libstdc++") == 0 || name.find("libm.so") == 0)
        std::printf("object: %s\n", name.c_str());
    else if (name.find("ld") == 0)          // ld.so.1, ld-linux-armhf.so.3...
        std::printf("object: the dynamic loader\n");
    ++*static_cast<int *>(data);
    return 0;
}

int libraries(int, char **) {
    int count = 0;
    dl_iterate_phdr(one_object, &count);
    std::printf("more than four objects: %s\n", count > 4 ? "yes" : "no");
    return 0;
}

int dlopen_part(int, char **) {
    void *libm = dlopen("libm.so.6", RTLD_NOW);
    if (!libm) {
        std::printf("dlopen failed: %s\n", dlerror());
        return 1;
    }
    auto cosine = reinterpret_cast<double (*)(double)>(dlsym(libm, "cos"));
    std::printf("cos(0) through dlsym = %.1f\n", cosine ? cosine(0.0) : -1.0);
    std::printf("dlclose: %d\n", dlclose(libm));
    void *none = dlopen("libnothere.so.9", RTLD_NOW);
    std::printf("missing library: %s\n", none ? "opened?" : "refused");
    return 0;
}

int exception(int, char **) {
    try {
        throw std::runtime_error("thrown and caught in libstdc++");
    } catch (const std::exception &e) {
        std::printf("caught: %s\n", e.what());
    }
    return 0;
}

thread_local std::string label = "main";

int thread_part(int, char **) {
    std::thread other([] {
        label = "other";
        std::printf("in the thread: %s\n", label.c_str());
    });
    other.join();
    std::printf("after join: %s\n", label.c_str());
    return 0;
}

int maps(int, char **) {
    FILE *f = std::fopen("/proc/self/maps", "r");
    char line[1024];
    bool libc = false, loader = false;
    while (f && std::fgets(line, sizeof line, f)) {
        libc = libc || std::strstr(line, "libc.so.6");
        loader = loader || std::strstr(line, "/ld");
    }
    std::printf("maps name libc.so.6: %s, the loader: %s\n", libc ? "yes" : "no",
                loader ? "yes" : "no");
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    struct { const char *name; int (*run)(int, char **); } parts[] = {
        {"hello", hello}, {"auxv", auxv}, {"libraries", libraries}, {"dlopen", dlopen_part},
        {"exception", exception}, {"thread", thread_part}, {"maps", maps}};
    for (auto &part : parts)
        if (argc > 1 && std::strcmp(argv[1], part.name) == 0)
            return part.run(argc, argv);
    std::fprintf(stderr, "usage: dynamic hello|auxv|libraries|dlopen|exception|thread|maps\n");
    return 2;
}
