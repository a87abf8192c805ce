# A shell script as build and test scripts are written: functions, loops,
# pipelines, command substitution, subshells, here-documents, background
# jobs, traps and redirections, starting several hundred processes.
# Its output must be the same under xemu as natively, with nothing on
# stderr (tests/matrix/test_busybox.py runs it with busybox sh).
set -u
WORK=${1:-.}
cd "$WORK" || exit 9
OUT=out.txt
: > "$OUT"

say() {
    printf '%s\n' "$*" >> "$OUT"
}

section() {
    say "== $1"
}

# -- 1. files and text tools -----------------------------------------------
section files
mkdir -p tree/a/b tree/c
for i in $(seq 1 12); do
    printf 'line %02d of file %d\n' "$i" "$i" > "tree/a/f$i.txt"
    echo "$i" | awk '{ print $1 * $1 }' >> tree/squares
done
cat tree/a/f*.txt | sort -r | head -n 3 >> "$OUT"
wc -l < tree/squares | tr -d ' ' >> "$OUT"
sort -n tree/squares | tail -n 2 | tr '\n' ' ' >> "$OUT"
echo >> "$OUT"
ls tree/a | wc -l | tr -d ' ' >> "$OUT"
find tree -type f -name 'f1*.txt' | sort >> "$OUT"
find tree -type f -name 'f?.txt' -exec basename {} \; | sort | tr '\n' ',' >> "$OUT"
echo >> "$OUT"
grep -l 'file 7' tree/a/*.txt >> "$OUT"
grep -c line tree/a/f3.txt >> "$OUT"
sed -n 's/line \([0-9]*\) of.*/n=\1/p' tree/a/f5.txt >> "$OUT"
cut -d' ' -f2,4 tree/a/f9.txt >> "$OUT"
md5sum tree/a/f1.txt | cut -c1-32 >> "$OUT"
cp tree/a/f2.txt tree/c/copy && cmp tree/a/f2.txt tree/c/copy && say same
mv tree/c/copy tree/c/moved && test -f tree/c/moved && say moved
rm -r tree/c && test ! -e tree/c && say removed

# -- 2. functions, arithmetic and case ---------------------------------------
section functions
fib() {
    a=0 b=1 n=$1
    while [ "$n" -gt 0 ]; do
        t=$((a + b)); a=$b; b=$t; n=$((n - 1))
    done
    echo "$a"
}
classify() {
    case "$1" in
        *[!0-9]*) echo "word:$1" ;;
        ?) echo "digit:$1" ;;
        *) echo "number:$1" ;;
    esac
}
for n in 1 5 10 20 30; do
    say "fib $n = $(fib "$n")"
done
for w in 7 42 x1 hello 0; do
    classify "$w" >> "$OUT"
done
total=0
for i in $(seq 1 40); do
    total=$((total + $(expr "$i" % 7)))
done
say "sum of mods $total"

# -- 3. pipelines of many stages ----------------------------------------------
section pipelines
seq 1 200 | grep 7 | sort -rn | head -n 5 | tr '\n' ' ' >> "$OUT"
echo >> "$OUT"
for word in alpha beta gamma delta epsilon; do
    echo "$word" | tr 'a-z' 'A-Z' | rev | cut -c1-3
done >> "$OUT"
printf 'b\na\nc\nb\na\n' | sort | uniq -c | awk '{ print $2 "=" $1 }' >> "$OUT"
yes hello | head -n 25 | wc -l | tr -d ' ' >> "$OUT"
seq 1 1000 | awk '{ s += $1 } END { print s }' >> "$OUT"
seq 1 30 | paste -s -d+ | bc 2>/dev/null >> "$OUT" || seq 1 30 | awk '{ s += $1 } END { print s }' >> "$OUT"

# -- 4. command substitution and subshells -------------------------------------
section substitution
for i in $(seq 1 15); do
    inner=$(echo "$i" | sed 's/^/x/')
    outer=$( (echo "$inner"; echo "$i") | tr '\n' '-')
    say "$outer"
done
v=$( (cd tree && pwd | sed 's|.*/||') )
say "subshell pwd $v"
( exit 4 ); say "subshell status $?"
( say "from a subshell"; false ) || say "subshell failed as expected"
nested=$(echo $(echo $(echo deep)))
say "$nested"

# -- 5. here-documents and reading lines --------------------------------------
section heredoc
while read -r key value; do
    say "$key -> $(echo "$value" | tr 'a-z' 'A-Z')"
done <<EOF
one first
two second
three third
EOF
count=0
while IFS=: read -r name rest; do
    count=$((count + 1))
    [ "$count" -le 3 ] && say "field $count: $name"
done <<'EOF'
root:x:0
daemon:x:1
bin:x:2
sys:x:3
EOF
say "read $count lines"
cat <<EOF | grep -v skip | wc -l | tr -d ' ' >> "$OUT"
keep 1
skip 2
keep 3
EOF

# -- 6. background jobs and wait -----------------------------------------------
section jobs
for i in 1 2 3 4 5 6; do
    ( sleep 0.0$i; echo "job $i" > "job.$i" ) &
done
wait
cat job.* | sort >> "$OUT"
rm -f job.*
sleep 0.05 &
pid=$!
wait "$pid"; say "waited status $?"
( exit 3 ) &
wait $!; say "background exit $?"

# -- 7. xargs and find -exec ------------------------------------------------------
section xargs
seq 1 9 | xargs -n 3 echo | tr ' ' '+' >> "$OUT"
find tree -name 'f*.txt' | sort | xargs cat | wc -l | tr -d ' ' >> "$OUT"
find tree/a -name 'f1?.txt' -exec wc -c {} \; | awk '{ s += $1 } END { print s }' >> "$OUT"
ls tree/a | xargs -I{} echo "item {}" | head -n 4 >> "$OUT"

# -- 8. traps and signals ---------------------------------------------------------
section traps
trap 'say "caught USR1"' USR1
kill -USR1 $$
trap - USR1
sh -c 'trap "echo child TERM; exit 0" TERM; kill -TERM $$; echo not reached' >> "$OUT"
sh -c 'kill -9 $$'; say "killed child status $?"
sh -c 'exit 7'; say "child exit $?"

# -- 9. redirections and descriptors -------------------------------------------
section redirections
exec 3> fd3.txt
echo "to fd 3" >&3
exec 3>&-
cat fd3.txt >> "$OUT"
{ echo out; echo err >&2; } 2> err.txt > std.txt
say "std=$(cat std.txt) err=$(cat err.txt)"
ls /nonexistent-xemu-path 2>/dev/null || say "ls failed quietly"
echo appended >> std.txt && wc -l < std.txt | tr -d ' ' >> "$OUT"
exec 4< std.txt
read -r first <&4
exec 4<&-
say "first=$first"

# -- 10. a little build: compile steps as processes --------------------------
section build
mkdir -p build
for unit in main util io net log; do
    sed "s/UNIT/$unit/" > "build/$unit.c" <<'EOF'
int UNIT(void) { return 0; }
EOF
    md5sum "build/$unit.c" | cut -c1-8 > "build/$unit.o"
done
cat build/*.o | sort | md5sum | cut -c1-16 >> "$OUT"
ls build | grep -c '\.o$' >> "$OUT"
for obj in build/*.o; do
    test -s "$obj" || say "empty $obj"
done
rm -r build

# -- 11. many short processes --------------------------------------------------
section many
n=0
for i in $(seq 1 60); do
    r=$(expr "$i" \* 3)
    [ "$(echo "$r" | cut -c1)" = "9" ] && n=$((n + 1))
    true
done
say "started many, counted $n"
i=0
until [ "$i" -ge 20 ]; do
    i=$(expr "$i" + 1)
done
say "until loop to $i"

# -- 12. parameters, getopts, eval and set -----------------------------------
section parameters
path=/usr/local/lib/libxemu.so.1.2
say "base=${path##*/} dir=${path%/*} ext=${path##*.} stem=${path%%.*}"
name=workload
say "len=${#name} upper=$(echo "$name" | tr 'a-z' 'A-Z') default=${missing:-fallback}"
: "${assigned:=now set}"
say "assigned=$assigned"
parse() {
    OPTIND=1
    verbose=0 output=- level=1
    while getopts "vo:l:" opt "$@"; do
        case $opt in
            v) verbose=1 ;;
            o) output=$OPTARG ;;
            l) level=$OPTARG ;;
            *) say "bad option" ;;
        esac
    done
    shift $((OPTIND - 1))
    say "verbose=$verbose output=$output level=$level rest=$*"
}
parse -v -o file.txt one two
parse -l 3 -- -x
parse
set -- alpha "beta gamma" delta
say "count=$# first=$1 second=$2"
shift 2
say "after shift: $*"
var=dynamic
eval "value_$var=42"
eval "say \"eval gave \$value_$var\""
IFS=, read -r a b c <<EOF
x,y,z
EOF
say "split $a $b $c"
old_ifs=$IFS
IFS=:
set -- $(echo "p:q:r")
IFS=$old_ifs
say "colon fields $# $2"

# -- 13. tests and conditions ------------------------------------------------
section conditions
check() {
    if [ "$1" -lt 10 ] && [ "$1" -ge 0 ]; then
        echo small
    elif [ "$1" -lt 100 ]; then
        echo medium
    else
        echo large
    fi
}
for v in 3 42 500 0 99; do
    say "$v is $(check "$v")"
done
[ -d tree ] && say "tree is a directory"
[ -f tree ] || say "tree is not a file"
[ -z "" ] && [ -n "x" ] && say "string tests"
[ "abc" = "abc" ] && [ "abc" != "abd" ] && say "string compare"
test 5 -gt 3 -a 2 -lt 4 && say "test -a"

# -- 14. a dependency walk, as make would do ------------------------------------
section depends
deps() {
    case $1 in
        app) echo "lib util" ;;
        lib) echo "util core" ;;
        util) echo "core" ;;
        core) echo "" ;;
    esac
}
built=""
build() {
    case " $built " in
        *" $1 "*) return ;;
    esac
    for d in $(deps "$1"); do
        build "$d"
    done
    built="$built $1"
    echo "built $1" | tr 'a-z' 'A-Z' >> "$OUT"
}
build app
say "order:$built"
printf '%-6s|%4d|%05.1f\n' name 42 3.14159 >> "$OUT"
printf '%x %o %c\n' 255 8 Z >> "$OUT"

section done
cat "$OUT"
