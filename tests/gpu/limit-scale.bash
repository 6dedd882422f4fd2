# SG_GPU_LIMIT_SCALE's check, sourced by tests/gpu/run and by
# tests/gpu/dry-run, which checks it before its build (minutes) so that a
# typo is told at once: an integer or a decimal (2.5) above 0, read to the
# thousandth.
# gpu_limit_scale_milli WHO VALUE ADVICE: sets scale_milli to VALUE in
# thousandths; else says, as WHO, that VALUE is refused (ADVICE ends the
# line) and returns 2.
gpu_limit_scale_milli() {
  local who=$1 value=$2 advice=$3 frac
  scale_milli=0
  if [[ $value =~ ^([0-9]{0,6})(\.([0-9]+))?$ ]]; then
    frac=${BASH_REMATCH[3]}000
    scale_milli=$(( 10#${BASH_REMATCH[1]:-0} * 1000 + 10#${frac:0:3} ))
  fi
  if [ "$scale_milli" -eq 0 ]; then
    echo "$who: SG_GPU_LIMIT_SCALE=$value: expected a number above 0 that multiplies each step's time limit," \
         "such as 6 or 2.5; $advice" >&2
    return 2
  fi
}
