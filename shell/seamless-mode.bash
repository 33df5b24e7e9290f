# shellcheck shell=bash
# Seamless mode for interactive bash >= 4.3 (SPEC §7; contract in shell/README.md).
# shell/build.sh copies this file into bin/seamless-mode-bind.sh; edit it here, then rebuild.
# Everything is defined by the sourcing shell only: no `set`, no `export`, names seamless-mode-*
# and __seamless_* / SEAMLESS_MODE_* only.

# Guards first: interactive, line editing, a real terminal, bash >= 4.3.
[[ $- == *i* ]] || return 0
[[ :${SHELLOPTS-}: == *:emacs:* || :${SHELLOPTS-}: == *:vi:* ]] || return 0
[[ ${TERM-} != dumb ]] || return 0
((BASH_VERSINFO[0] > 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] >= 3))) || return 0

__seamless_mode_keymaps=(emacs vi-insert vi-command)
# Enter becomes a macro of two private key sequences (the atuin pattern): a `bind -x` function
# can edit READLINE_LINE but cannot accept the line, so the first sequence runs our function
# (rewrite) and the second one is plain accept-line. They start with \C-x\C-_ (never \e, which
# would break vi-insert, and never \C-u, which would hijack Ctrl-U) and end in \a so that no
# key a user types is a prefix of them.
__seamless_mode_seq_rewrite='\C-x\C-_SM1\a'
__seamless_mode_seq_accept='\C-x\C-_SM2\a'

# Record the current bindings of KEYs in every keymap into the array named by $1, as replayable
# "KEYMAP<tab>TYPE<tab>LINE" records: TYPE "-r" (unbind KEY first), "-" (function or macro:
# `bind LINE`) or "-x" (`bind -x LINE`). One subshell and one grep for all keymaps, as this runs
# while sourcing and on every mode-on.
seamless-mode--save() {
  local -n __seamless_mode_into=$1
  shift
  local km key line type=- dump
  local -a patterns=(-e '@')
  for key in "$@"; do
    patterns+=(-e "\"$key\": ")
  done
  dump=$(
    for km in "${__seamless_mode_keymaps[@]}"; do
      builtin printf '@%s\n' "$km"
      builtin bind -m "$km" -p
      builtin bind -m "$km" -s
      builtin printf '@-x\n'
      builtin bind -m "$km" -X
    done | command grep -F "${patterns[@]}"
  ) || true
  for km in "${__seamless_mode_keymaps[@]}"; do
    for key in "$@"; do
      __seamless_mode_into+=("$km"$'\t'"-r"$'\t'"$key")
    done
  done
  while IFS= read -r line; do
    case $line in
      @-x) type=-x ;;
      @*) km=${line#@} type=- ;;
      *)
        for key in "$@"; do
          [[ $line == "\"$key\": "* ]] && __seamless_mode_into+=("$km"$'\t'"$type"$'\t'"$line")
        done
        ;;
    esac
  done <<<"$dump"
}

# Undo our binding of each saved key, then replay exactly what was saved.
seamless-mode--replay() {
  local rec km type line
  for rec in "$@"; do
    IFS=$'\t' read -r km type line <<<"$rec"
    if [[ $type == -r ]]; then
      builtin bind -m "$km" -r "$line"
    fi
  done
  for rec in "$@"; do
    IFS=$'\t' read -r km type line <<<"$rec"
    case $type in
      -) builtin bind -m "$km" "$line" ;;
      -x) builtin bind -m "$km" -x "$line" ;;
    esac
  done
}

# Bind KEY to a shell command in KEYMAP; bash 5.1 needs the old -x binding removed first.
seamless-mode--bind-x() {
  builtin bind -m "$1" -r "$2"
  builtin bind -m "$1" -x "\"$2\": $3"
}

# How to run the rewriter: asked once from the installed command (--fast-argv: the same module
# without the console-script wrapper and `site`, which dominate its start-up), then reused.
seamless-mode--rewriter() {
  [[ -n ${__seamless_mode_rewriter[0]-} && -f ${__seamless_mode_rewriter[3]-} ]] && return 0
  __seamless_mode_rewriter=()
  mapfile -t __seamless_mode_rewriter < <(command seamless-mode-rewrite --fast-argv 2>/dev/null)
  ((${#__seamless_mode_rewriter[@]} == 4)) || __seamless_mode_rewriter=(seamless-mode-rewrite)
}

seamless-mode--rewrite() {
  local line=$1 names name
  local -a args=()
  seamless-mode--rewriter
  [[ -n ${SEAMLESS_MODE_OPTS-} ]] && args+=(--opts "$SEAMLESS_MODE_OPTS")
  if [[ $line == *'$'* ]]; then
    names=$(command "${__seamless_mode_rewriter[@]}" --list-vars -- "$line") || return 1
    while IFS= read -r name; do
      [[ -n $name && -n ${!name+set} ]] && args+=(--set "$name=${!name}")
    done <<<"$names"
  fi
  command "${__seamless_mode_rewriter[@]}" ${args[@]+"${args[@]}"} -- "$line"
}

# First step of Enter (bound with bind -x): replace the line by `seamless-mode-exec` when the
# rewriter accepts it. The typed line never passes through word splitting or globbing here.
seamless-mode--prepare() {
  builtin export -n READLINE_LINE READLINE_POINT 2>/dev/null
  local line=$READLINE_LINE out
  __seamless_mode_R=
  seamless-mode--rewriter  # here, not only in the $(...) below, so that the answer is kept
  out=$(seamless-mode--rewrite "$line") || return 0
  [[ -n $out ]] || return 0
  __seamless_mode_L=$line
  __seamless_mode_R=$out
  READLINE_LINE=seamless-mode-exec
  READLINE_POINT=${#READLINE_LINE}
}

# The line that Enter accepted: put the typed line in history instead of this one, run R.
seamless-mode-exec() {
  local r=${__seamless_mode_R-} l=${__seamless_mode_L-} num rest
  __seamless_mode_R=
  [[ -n $r ]] || return 0
  read -r num rest <<<"$(HISTTIMEFORMAT='' builtin history 1)"
  if [[ $rest == seamless-mode-exec ]]; then
    builtin history -d "${num%\*}"
  fi
  builtin history -s -- "$l"
  [[ ${SEAMLESS_MODE_ECHO-} == 1 ]] && builtin printf '%s\n' "$r" >&2
  builtin eval "$r"
}

seamless-mode-on() {
  if (($#)); then
    builtin printf -v SEAMLESS_MODE_OPTS '%q ' "$@"
    SEAMLESS_MODE_OPTS=${SEAMLESS_MODE_OPTS% }
  else
    SEAMLESS_MODE_OPTS=
  fi
  builtin export -n SEAMLESS_MODE_OPTS
  seamless-mode--enable
}

# Turn the mode on keeping SEAMLESS_MODE_OPTS (the hotkey path).
seamless-mode--enable() {
  local km key macro
  if [[ ${__seamless_mode_on-} != 1 ]]; then
    __seamless_mode_saved_enter=()
    seamless-mode--save __seamless_mode_saved_enter '\C-m' '\C-j'
    macro="\"$__seamless_mode_seq_rewrite$__seamless_mode_seq_accept\""
    for km in "${__seamless_mode_keymaps[@]}"; do
      for key in '\C-m' '\C-j'; do
        builtin bind -m "$km" -r "$key"
        builtin bind -m "$km" "\"$key\": $macro"
      done
    done
    __seamless_mode_saved_ps1=${PS1-}
    PS1="\[\e[35m\][seamless-mode]\[\e[0m\] ${PS1-}"
    __seamless_mode_on=1
  fi
  builtin printf 'seamless mode ON\n' >&2
}

seamless-mode-off() {
  if [[ ${__seamless_mode_on-} == 1 ]]; then
    seamless-mode--replay "${__seamless_mode_saved_enter[@]}"
    PS1=$__seamless_mode_saved_ps1
    __seamless_mode_on=0
  fi
  builtin printf 'seamless mode OFF\n' >&2
}

seamless-mode-toggle() {
  if [[ ${__seamless_mode_on-} == 1 ]]; then
    seamless-mode-off
  else
    seamless-mode--enable
  fi
}

# Remove the hotkey and the private sequences, turn the mode off, restore what they replaced.
# (readline keeps a key that became a prefix, e.g. \C-u, as a prefix with its old function as
# the default: it behaves as before, but `bind -p` then lists it as "\C-u\000".)
seamless-mode-unbind() {
  local km
  [[ ${__seamless_mode_on-} == 1 ]] && seamless-mode-off
  [[ ${__seamless_mode_bound-} == 1 ]] || return 0
  for km in "${__seamless_mode_keymaps[@]}"; do
    builtin bind -m "$km" -r "$__seamless_mode_seq_rewrite"
    builtin bind -m "$km" -r "$__seamless_mode_seq_accept"
  done
  seamless-mode--replay ${__seamless_mode_saved_hotkey[@]+"${__seamless_mode_saved_hotkey[@]}"}
  __seamless_mode_bound=0
}

# Bind once per shell: the private sequences, and the hotkey (its old bindings are captured).
seamless-mode--bind() {
  local km hotkey=${SEAMLESS_MODE_HOTKEY-'\C-uu'}
  [[ ${__seamless_mode_bound-} == 1 ]] && return 0
  __seamless_mode_saved_hotkey=()
  [[ -n $hotkey ]] && seamless-mode--save __seamless_mode_saved_hotkey "$hotkey"
  for km in "${__seamless_mode_keymaps[@]}"; do
    seamless-mode--bind-x "$km" "$__seamless_mode_seq_rewrite" seamless-mode--prepare
    builtin bind -m "$km" "\"$__seamless_mode_seq_accept\": accept-line"
    [[ -n $hotkey ]] && seamless-mode--bind-x "$km" "$hotkey" seamless-mode-toggle
  done
  __seamless_mode_bound=1
}
seamless-mode--bind
return 0
