# shellcheck shell=bash
# Seamless mode for interactive bash >= 4.3 (contract in shell/README.md).
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
# The rewriter's built-in skip words are asked once too, so that the shell can decline the
# usual lines (builtins, `cd`, `git`, ...) without starting Python at all.
seamless-mode--rewriter() {
  [[ -n ${__seamless_mode_rewriter[0]-} && -f ${__seamless_mode_rewriter[3]-} ]] && return 0
  __seamless_mode_rewriter=()
  mapfile -t __seamless_mode_rewriter < <(command seamless-mode-rewrite --fast-argv 2>/dev/null)
  ((${#__seamless_mode_rewriter[@]} == 4)) || __seamless_mode_rewriter=(seamless-mode-rewrite)
  local word words
  words=$(command "${__seamless_mode_rewriter[@]}" --skip-words 2>/dev/null) || words=
  for word in $words; do
    __seamless_mode_skip[$word]=1
  done
}

# Is WORD run by the shell itself (alias, keyword, function, builtin) rather than as a program?
# The same answer as `type -t`, without a subshell.
seamless-mode--shell-word() {
  [[ -n $1 ]] || return 0
  [[ -n ${BASH_ALIASES[$1]+x} || -n ${__seamless_mode_builtin[$1]+x} ]] && return 0
  builtin declare -F -- "$1" >/dev/null
}

# Decline early, in the shell: blank lines, comments, and lines whose first word (after
# NAME=VALUE words) is a shell word or a skip word. Everything else goes to the rewriter.
seamless-mode--quick-decline() {
  local -a words
  local word user=${SEAMLESS_MODE_SKIP-}
  read -r -a words <<<"$1" || true
  for word in ${words[@]+"${words[@]}"}; do
    [[ $word == [A-Za-z_]*([A-Za-z0-9_])?(+)=* ]] && continue
    [[ $word == '#'* || $word == seamless* ]] && return 0
    [[ -n ${__seamless_mode_skip[$word]+x} ]] && return 0
    [[ " ${user//[,:]/ } " == *" $word "* ]] && return 0
    seamless-mode--shell-word "$word"
    return
  done
  return 0
}

seamless-mode--rewrite() {
  local line=$1 names name
  local -a args=(--commands)
  seamless-mode--rewriter
  [[ -n ${SEAMLESS_MODE_OPTS-} ]] && args+=(--opts "$SEAMLESS_MODE_OPTS")
  [[ -n ${SEAMLESS_MODE_SKIP-} ]] && args+=(--skip "$SEAMLESS_MODE_SKIP")
  if [[ $line == *'$'* ]]; then
    names=$(command "${__seamless_mode_rewriter[@]}" --list-vars -- "$line") || return 1
    while IFS= read -r name; do
      [[ -n $name && -n ${!name+set} ]] && args+=(--set "$name=${!name}")
    done <<<"$names"
  fi
  command "${__seamless_mode_rewriter[@]}" "${args[@]}" -- "$line"
}

# First step of Enter (bound with bind -x). It acts only once per primary prompt: the prompt
# hook arms it, and it disarms itself at once. So it never runs a command substitution while
# bash is reading the second or later line of a command (that corrupts bash 5.2's parser, see
# shell/README.md), and a continuation line is never rewritten on its own.
# When the rewriter accepts the line, it becomes `seamless-mode-exec`. The typed line never
# passes through word splitting or globbing here.
seamless-mode--prepare() {
  [[ ${__seamless_mode_armed-} == 1 ]] || return 0
  __seamless_mode_armed=0
  __seamless_mode_R=
  builtin export -n READLINE_LINE READLINE_POINT 2>/dev/null
  local line=$READLINE_LINE out word bang=${histchars-!}
  bang=${bang:0:1}
  # History expansion first, exactly as bash would do it after Enter (`!$`, `!!`).
  if [[ -n $bang && $- == *H* && $line == *"$bang"* ]]; then
    builtin shopt -q histverify && return 0
    line=$(seamless-mode--expand "$line" 2>/dev/null) || return 0
  fi
  seamless-mode--quick-decline "$line" && return 0
  seamless-mode--rewriter  # here, not only in the $(...) below, so that the answer is kept
  out=$(seamless-mode--rewrite "$line") || return 0
  [[ -n $out ]] || return 0
  # After R come the command words of the line: all of them must be programs.
  while IFS= read -r word; do
    seamless-mode--shell-word "$word" && return 0
  done <<<"${out#*$'\n'}"
  __seamless_mode_L=$line
  __seamless_mode_R=${out%%$'\n'*}
  word=${out#*$'\n'}
  seamless-mode--alias "${word%%$'\n'*}" "$line" && return 0
  __seamless_mode_kept=0
  [[ $line == "$READLINE_LINE" ]] || builtin printf '%s\n' "$line"
  READLINE_LINE=seamless-mode-exec
  READLINE_POINT=${#READLINE_LINE}
}

# `history -p` on LINE, in the subshell of the caller's $(...). Called from a key binding, where
# bash still counts the previous command line as the one just added: `history -p` would then
# delete that entry first (as it does for a `history -p` typed as a command), and `!$` would
# name the command before it. A `history -s` of a dummy entry, deleted at once, tells bash that
# the last entry was pushed, so `history -p` keeps it. Only this subshell's history changes.
seamless-mode--expand() {
  local last
  HISTCONTROL='' HISTIGNORE=''
  builtin history -s -- "$1"
  if ! builtin history -d -1 2>/dev/null; then  # bash < 5.0: no negative offsets
    last=$(builtin history 1)
    last=${last#"${last%%[0-9]*}"}
    builtin history -d "${last%%[!0-9]*}"
  fi
  builtin history -p -- "$1"
}

# The usual way to run R: the typed line stays as it is, and its first command word WORD becomes,
# for this one line, the alias `seamless-mode-exec #`. bash then handles the line as its own:
# `!` expansion, the echo of an expanded line, history with HISTCONTROL/HISTIGNORE, and the
# preexec-style hooks that read `history 1` all see the typed line, while the parser reads
# `seamless-mode-exec` followed by a comment that runs to the end of the line. The alias is
# removed by seamless-mode-exec, or by the prompt hook if the line never ran. Only when WORD is
# literally the first word of LINE (after NAME=VALUE words) and a valid alias name, with
# expand_aliases and interactive_comments on; otherwise returns 1.
seamless-mode--alias() {
  local word=$1 first
  local -a words
  builtin shopt -q expand_aliases && builtin shopt -q interactive_comments || return 1
  [[ $word =~ ^[A-Za-z0-9_][A-Za-z0-9_.+@%,-]*$ && -z ${BASH_ALIASES[$word]+x} ]] || return 1
  read -r -a words <<<"$2" || true
  for first in ${words[@]+"${words[@]}"}; do
    [[ $first == [A-Za-z_]*([A-Za-z0-9_])?(+)=* ]] || break
  done
  [[ ${first-} == "$word" ]] || return 1
  # shellcheck disable=SC2139  # expanded now on purpose
  builtin alias -- "$word=seamless-mode-exec #"
  __seamless_mode_alias=$word __seamless_mode_kept=1
}

seamless-mode--unalias() {
  local word=${__seamless_mode_alias-}
  __seamless_mode_alias=
  [[ -n $word && ${BASH_ALIASES[$word]-} == 'seamless-mode-exec #' ]] && builtin unalias -- "$word"
  return 0
}

# The command that Enter runs instead of the typed line L: R runs. When L was kept (alias), bash
# has put L in history itself; when the line was replaced by `seamless-mode-exec`, L replaces
# that line in history first. `history -s` replaces the entry of the command that runs it (this line) when bash added
# one, and otherwise just adds L; it applies HISTCONTROL and HISTIGNORE to L. No other entry
# is touched.
seamless-mode-exec() {
  local r=${__seamless_mode_R-} l=${__seamless_mode_L-}
  __seamless_mode_R=
  seamless-mode--unalias
  [[ -n $r ]] || return 0
  [[ ${__seamless_mode_kept-} != 1 && -o history ]] && builtin history -s -- "$l"
  [[ ${SEAMLESS_MODE_ECHO-} == 1 ]] && builtin printf '%s\n' "$r" >&2
  builtin eval "$r"
}

# Runs before every primary prompt (PROMPT_COMMAND, or bash-preexec's precmd_functions):
# arms Enter, binds it if the hotkey asked for that, and keeps the marker in the current
# prompt exactly while the mode is on. Keeps $?.
seamless-mode--prompt() {
  local status=$?
  [[ -n ${__seamless_mode_alias-} ]] && seamless-mode--unalias
  __seamless_mode_R=
  if [[ ${__seamless_mode_on-} == 1 ]]; then
    [[ ${__seamless_mode_bound_enter-} == 1 ]] || seamless-mode--bind-enter
    __seamless_mode_armed=1
    [[ ${PS1-} == *"$__seamless_mode_marker"* ]] || PS1=$__seamless_mode_marker${PS1-}
  elif [[ ${PS1-} == *"$__seamless_mode_marker"* ]]; then
    PS1=${PS1/"$__seamless_mode_marker"/}
  fi
  return "$status"
}

# Put seamless-mode--prompt in front of PROMPT_COMMAND (string or array), as direnv does; with
# bash-preexec loaded, in precmd_functions instead (its first PROMPT_COMMAND entry must stay
# first, to see $? and PIPESTATUS).
seamless-mode--hook() {
  if [[ -n ${bash_preexec_imported-}${__bp_imported-} ]]; then
    [[ " ${precmd_functions[*]-} " == *" seamless-mode--prompt "* ]] || precmd_functions+=(seamless-mode--prompt)
    return 0
  fi
  [[ ";${PROMPT_COMMAND[*]-};" == *"seamless-mode--prompt"* ]] && return 0
  if [[ -n ${PROMPT_COMMAND+x} && ${PROMPT_COMMAND@a} == *a* ]]; then
    PROMPT_COMMAND=(seamless-mode--prompt "${PROMPT_COMMAND[@]}")
  else
    # shellcheck disable=SC2178,SC2128  # here PROMPT_COMMAND is a string
    PROMPT_COMMAND="seamless-mode--prompt${PROMPT_COMMAND:+;$PROMPT_COMMAND}"
  fi
}

seamless-mode--unhook() {
  local -a kept=()
  local entry
  for entry in ${precmd_functions[@]+"${precmd_functions[@]}"}; do
    [[ $entry == seamless-mode--prompt ]] || kept+=("$entry")
  done
  [[ -n ${precmd_functions+x} ]] && precmd_functions=(${kept[@]+"${kept[@]}"})
  [[ -n ${PROMPT_COMMAND+x} ]] || return 0
  if [[ ${PROMPT_COMMAND@a} == *a* ]]; then
    kept=()
    for entry in "${PROMPT_COMMAND[@]}"; do
      [[ $entry == seamless-mode--prompt ]] || kept+=("$entry")
    done
    PROMPT_COMMAND=(${kept[@]+"${kept[@]}"})
  else
    # shellcheck disable=SC2178,SC2128  # here PROMPT_COMMAND is a string
    PROMPT_COMMAND=${PROMPT_COMMAND/#seamless-mode--prompt;/}
    # shellcheck disable=SC2178,SC2128
    PROMPT_COMMAND=${PROMPT_COMMAND/#seamless-mode--prompt/}
  fi
}

seamless-mode-on() {
  if (($#)); then
    builtin printf -v SEAMLESS_MODE_OPTS '%q ' "$@"
    SEAMLESS_MODE_OPTS=${SEAMLESS_MODE_OPTS% }
  else
    SEAMLESS_MODE_OPTS=
  fi
  builtin export -n SEAMLESS_MODE_OPTS
  seamless-mode--enable now
}

# Save the user's Enter bindings, then put the rewrite step in front of every accept they make.
seamless-mode--bind-enter() {
  local rec km type line
  __seamless_mode_saved_enter=()
  seamless-mode--save __seamless_mode_saved_enter '\C-m' '\C-j'
  for rec in "${__seamless_mode_saved_enter[@]}"; do
    IFS=$'\t' read -r km type line <<<"$rec"
    [[ $type == - ]] || continue
    seamless-mode--enter-binding "$line" || continue
    line=${line%%\": *}
    builtin bind -m "$km" -r "${line#\"}"
    builtin bind -m "$km" "$__seamless_mode_binding"
  done
  __seamless_mode_bound_enter=1
}

# The binding that Enter gets in the mode, from its saved binding LINE (`"KEY": VALUE`):
# accept-line becomes the macro "rewrite step, accept-line"; a user's own macro (a `bind
# '"\C-m": "..."'`) keeps running, with that pair in place of each \C-m or \C-j it types, so the
# rewrite step sees the line as the macro left it, just before it is accepted. The result goes to
# __seamless_mode_binding. Any other binding (another function, a `bind -x` command) is left
# alone: status 1, and that key does not rewrite.
seamless-mode--enter-binding() {
  local key=${1%%\": *} value=${1#*\": } pair=$__seamless_mode_seq_rewrite$__seamless_mode_seq_accept
  case $value in
    accept-line) __seamless_mode_binding="$key\": \"$pair\"" ;;
    \"*\\C-[mj]*\" | \"*\\[nr]*\")
      value=${value//\\C-m/$pair} value=${value//\\C-j/$pair}
      value=${value//\\r/$pair} value=${value//\\n/$pair}
      __seamless_mode_binding="$key\": $value"
      ;;
    *) return 1 ;;
  esac
}

# Turn the mode on keeping SEAMLESS_MODE_OPTS. With "now" (a command typed at the prompt), Enter
# is bound at once; from the hotkey, which may be pressed while bash is reading a continuation
# line, nothing that could disturb the parser runs: the prompt hook binds Enter before the next
# prompt, and the mode (with its marker) starts there.
seamless-mode--enable() {
  if [[ ${__seamless_mode_on-} != 1 ]]; then
    __seamless_mode_on=1
    __seamless_mode_armed=0
    seamless-mode--hook
    [[ ${1-} == now ]] && seamless-mode--bind-enter
    [[ ${PS1-} == *"$__seamless_mode_marker"* ]] || PS1=$__seamless_mode_marker${PS1-}
  fi
  builtin printf 'seamless mode ON\n' >&2
}

seamless-mode-off() {
  if [[ ${__seamless_mode_on-} == 1 ]]; then
    if [[ ${__seamless_mode_bound_enter-} == 1 ]]; then
      seamless-mode--replay "${__seamless_mode_saved_enter[@]}"
      __seamless_mode_bound_enter=0
    fi
    __seamless_mode_on=0
    __seamless_mode_armed=0
  fi
  seamless-mode--unalias
  PS1=${PS1/"$__seamless_mode_marker"/}
  builtin printf 'seamless mode OFF\n' >&2
}

seamless-mode-toggle() {
  if [[ ${__seamless_mode_on-} == 1 ]]; then
    seamless-mode-off
  else
    seamless-mode--enable "${1-now}"
  fi
}

# Remove the hotkey and the private sequences, turn the mode off, restore what they replaced.
# (readline keeps a key that became a prefix, e.g. \C-u, as a prefix with its old function as
# the default: it behaves as before, but `bind -p` then lists it as "\C-u\000".)
seamless-mode-unbind() {
  local km
  [[ ${__seamless_mode_on-} == 1 ]] && seamless-mode-off
  seamless-mode--unhook
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
    [[ -n $hotkey ]] && seamless-mode--bind-x "$km" "$hotkey" 'seamless-mode-toggle later'
  done
  __seamless_mode_bound=1
}
# The names that `type -t` calls keyword or builtin, for seamless-mode--shell-word.
declare -gA __seamless_mode_builtin=() __seamless_mode_skip=()
while IFS= read -r __seamless_mode_word; do
  __seamless_mode_builtin[$__seamless_mode_word]=1
done < <(compgen -b -k)
unset __seamless_mode_word
__seamless_mode_marker='\[\e[35m\][seamless-mode]\[\e[0m\] '
seamless-mode--bind
seamless-mode--hook
return 0
