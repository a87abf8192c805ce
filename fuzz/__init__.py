"""xemu's fuzzers (issue 20), run from the repository root:

    python -m fuzz syscalls --arch A --accel tcg|kvm --calls N --seed S [-j J]
    python -m fuzz elf --count N --seed S [-j J]

`syscalls` runs the guest tests/guests/bin/ARCH/xfuzz, which makes seeded
random system calls with random arguments; `elf` runs mutated copies of
tests/guests/bin/ARCH/xtest through the real CLI. Every xemu run has a
namespace sandbox of its own (fuzz/sandbox.py: user, pid, mount, net, ipc
and uts namespaces, every host mount but its workspace read-only, pipes
for stdin and stdout) and a fresh --rootfs with --memory 64M and a --timeout.
Both assert: exit status never 70, no "Traceback" or "internal error" on
stderr, nothing changed outside the root, peak RSS within --memory plus
xemu's fixed overhead (the RSS of running hello). Each failure is printed
as one reproducer line; failures are grouped by the traceback's last frame.
tests/fuzz/ runs short fuzzes with fixed seeds; the long ones are these
commands.
"""
