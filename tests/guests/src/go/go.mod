module xemu-tests

go 1.19
