// A multi-call Go test program (bin/ARCH/xgo): os.Args[1] names the test.
// Standard library only, built with CGO_ENABLED=0, so the Go runtime talks
// to the kernel itself: clone'd threads, futexes, sigaltstack, SIGURG for
// asynchronous preemption, SIGSEGV for nil dereferences, tgkill, timers.
// Every test prints only deterministic text (no addresses, timings,
// goroutine ids or map order).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func check(what string, ok bool) {
	fmt.Printf("%s ok=%v\n", what, ok)
	if !ok {
		fmt.Fprintf(os.Stderr, "FAIL: %s\n", what)
		os.Exit(1)
	}
}

// goroutines: many goroutines, a WaitGroup, a Mutex, atomics.
func goroutines() {
	const n, span = 100, 1000
	results := make(chan int64)
	for g := 0; g < n; g++ {
		go func(g int) {
			var sum int64
			for k := g * span; k < (g+1)*span; k++ {
				sum += int64(k)
			}
			results <- sum
		}(g)
	}
	var total int64
	for g := 0; g < n; g++ {
		total += <-results
	}
	const last = n*span - 1
	fmt.Printf("%d goroutines summed 0..%d = %d\n", n, last, total)
	check("channel total", total == int64(last)*(last+1)/2)

	var wg sync.WaitGroup
	squares := make([]int, 8)
	for g := range squares {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			squares[g] = g * g
		}(g)
	}
	wg.Wait()
	fmt.Printf("waitgroup squares %v\n", squares)

	const workers, rounds = 8, 100000
	var mu sync.Mutex
	counter := 0
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	fmt.Printf("mutex counter %d\n", counter)
	check("mutex counter", counter == workers*rounds)

	var atomic64 atomic.Int64
	var atomic32 int32
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				atomic64.Add(1)
				atomic.AddInt32(&atomic32, 1)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("atomic counters %d %d\n", atomic64.Load(), atomic.LoadInt32(&atomic32))
	check("atomic counters", atomic64.Load() == workers*rounds && atomic32 == workers*rounds)
}

// channels: unbuffered ping-pong, buffered, select, close and range, a pipeline.
func channels() {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(pong)
	}()
	v := 0
	for i := 0; i < 10000; i++ {
		ping <- v
		v = <-pong
	}
	close(ping)
	_, open := <-pong
	fmt.Printf("ping-pong %d round trips, value %d, pong open after close: %v\n", 10000, v, open)

	buf := make(chan string, 3)
	buf <- "a"
	buf <- "b"
	buf <- "c"
	fmt.Printf("buffered len=%d cap=%d\n", len(buf), cap(buf))
	select {
	case buf <- "d":
		fmt.Println("select: sent to a full channel (wrong)")
	default:
		fmt.Println("select: full channel, default taken")
	}
	fmt.Println("buffered order:", <-buf, <-buf, <-buf)
	select {
	case s := <-buf:
		fmt.Println("select: received from an empty channel (wrong):", s)
	default:
		fmt.Println("select: empty channel, default taken")
	}

	nums := make(chan int)
	go func() {
		for i := 1; i <= 10; i++ {
			nums <- i
		}
		close(nums)
	}()
	sum := 0
	for n := range nums {
		sum += n
	}
	z, ok := <-nums
	fmt.Printf("range over closed channel: sum %d, then %d %v\n", sum, z, ok)

	// a pipeline: generate 1..100 -> square -> keep the odd ones -> sum
	gen := func(n int) <-chan int {
		out := make(chan int)
		go func() {
			for i := 1; i <= n; i++ {
				out <- i
			}
			close(out)
		}()
		return out
	}
	square := func(in <-chan int) <-chan int {
		out := make(chan int, 4)
		go func() {
			for i := range in {
				out <- i * i
			}
			close(out)
		}()
		return out
	}
	odd := func(in <-chan int) <-chan int {
		out := make(chan int)
		go func() {
			for i := range in {
				if i%2 == 1 {
					out <- i
				}
			}
			close(out)
		}()
		return out
	}
	total, count := 0, 0
	for i := range odd(square(gen(100))) {
		total += i
		count++
	}
	fmt.Printf("pipeline: %d odd squares of 1..100 sum to %d\n", count, total)
	check("pipeline", count == 50 && total == 166650)
}

// timers: Sleep, After in a select, a Ticker, a context's deadline.
func timers() {
	start := time.Now()
	time.Sleep(50 * time.Millisecond)
	fmt.Println("slept>=50ms", time.Since(start) >= 50*time.Millisecond)

	never := make(chan int)
	select {
	case <-never:
		fmt.Println("after: the silent channel sent (wrong)")
	case <-time.After(20 * time.Millisecond):
		fmt.Println("after: timeout fired")
	}

	ticker := time.NewTicker(10 * time.Millisecond)
	ticks := 0
	for ticks < 5 {
		<-ticker.C
		ticks++
	}
	ticker.Stop()
	fmt.Printf("ticker: %d ticks, stopped\n", ticks)

	fired := make(chan string)
	time.AfterFunc(10*time.Millisecond, func() { fired <- "afterfunc: ran" })
	fmt.Println(<-fired)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	select {
	case <-ctx.Done():
		fmt.Println("context:", ctx.Err())
	case <-time.After(10 * time.Second):
		fmt.Println("context: deadline never came (wrong)")
	}
}

// The spinner's loop bound: -1 is never reached (i counts up from 0 in 64
// bits), but the compiler cannot know, so the loop stays, with no calls and
// so no synchronous preemption point in it.
var spinLimit int64 = -1
var spinResult int64

// preempt: a goroutine in a tight loop must be stopped for the GC's
// stop-the-world; only asynchronous preemption (SIGURG to the spinning
// thread, handled on its signal stack) can.
func preempt() {
	runtime.GOMAXPROCS(2)
	started := make(chan bool)
	go func() {
		started <- true
		var i int64
		for i = 0; ; i++ {
			if i == spinLimit {
				break
			}
		}
		spinResult = i
	}()
	<-started
	fmt.Println("spinner started")
	time.Sleep(100 * time.Millisecond)
	runtime.GC()
	fmt.Println("gc done while spinning")
	runtime.GC()
	fmt.Println("preempted")
}

// signals: Notify, Ignore, EPIPE without dying of SIGPIPE.
func signals() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1)
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		fmt.Println("kill:", err)
	}
	select {
	case s := <-c:
		fmt.Printf("notified: %v (%d)\n", s, s.(syscall.Signal))
	case <-time.After(10 * time.Second):
		fmt.Println("notify: nothing came (wrong)")
	}
	signal.Stop(c)

	signal.Ignore(syscall.SIGUSR2)
	fmt.Println("SIGUSR2 ignored:", signal.Ignored(syscall.SIGUSR2))
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR2); err != nil {
		fmt.Println("kill:", err)
	}
	time.Sleep(20 * time.Millisecond)
	fmt.Println("survived SIGUSR2")

	r, w, err := os.Pipe()
	if err != nil {
		fmt.Println("pipe:", err)
		os.Exit(1)
	}
	r.Close()
	_, err = w.Write([]byte("into the void"))
	fmt.Println("write to a closed pipe:", err)
	fmt.Println("EPIPE:", errors.Is(err, syscall.EPIPE))
	w.Close()
	fmt.Println("survived SIGPIPE")
}

type point struct{ x, y int }

var nilPoint *point
var nilMap map[string]int
var index = 5
var divisor = 0

func recovered(what string, f func()) {
	defer func() {
		r := recover()
		_, isRuntime := r.(runtime.Error)
		fmt.Printf("%s: recovered %q runtime.Error=%v\n", what, fmt.Sprint(r), isRuntime)
	}()
	f()
}

// panic: runtime errors recovered (a nil map write, an index out of range,
// a nil dereference through a real SIGSEGV, a division by zero: an explicit
// check on every arch), then a panic nobody recovers: status 2, "panic: boom" on stderr.
func panics() {
	recovered("nil map write", func() { nilMap["a"] = 1 })
	recovered("index out of range", func() {
		s := []int{1, 2, 3}
		fmt.Println(s[index])
	})
	recovered("nil dereference", func() { fmt.Println(nilPoint.y) })
	recovered("divide by zero", func() { fmt.Println(100 / divisor) })
	recovered("custom panic", func() { panic(fmt.Sprintf("custom %d", 42)) })
	fmt.Println("now an unrecovered panic")
	panic(errors.New("boom"))
}

// exitcode: os.Exit(3) from a goroutine while main blocks on a channel.
func exitcode() {
	fmt.Println("main blocks")
	go func() {
		fmt.Println("goroutine calls os.Exit(3)")
		fmt.Fprintln(os.Stderr, "exit 3 from a goroutine")
		os.Exit(3)
	}()
	<-make(chan int)
	fmt.Println("main woke up (wrong)")
}

var tests = map[string]func(){
	"goroutines": goroutines,
	"channels":   channels,
	"timers":     timers,
	"preempt":    preempt,
	"signals":    signals,
	"panic":      panics,
	"exitcode":   exitcode,
}

func main() {
	if len(os.Args) < 2 || tests[os.Args[1]] == nil {
		names := make([]string, 0, len(tests))
		for name := range tests {
			names = append(names, name)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: xgo TEST (one of %v)\n", names)
		os.Exit(2)
	}
	tests[os.Args[1]]()
}
