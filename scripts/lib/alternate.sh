# Sourced by the scripts that compare two programs' speed (compare-bench, jbw-compare,
# learner-bench): run both alternately, so that a machine getting slower or faster touches both
# alike, and take medians.

# alternate RUNS FIRST SECOND: calls the commands FIRST and SECOND RUNS times each, in the order
# A B B A A B …, their outputs (one per call) into the arrays `a` and `b`.
alternate() {
  local runs=$1 first=$2 second=$3 i
  a=() b=()
  for ((i = 0; i < runs; i++)); do
    if ((i % 2 == 0)); then
      a+=("$($first)"); b+=("$($second)")
    else
      b+=("$($second)"); a+=("$($first)")
    fi
  done
}

# The median of the numbers on standard input, one per line.
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
