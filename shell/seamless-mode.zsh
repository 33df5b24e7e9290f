# Seamless mode for interactive zsh >= 5.0 (SPEC §7; contract in shell/README.md).
# shell/build.sh copies this file into bin/seamless-mode-bind.sh; edit it here, then rebuild.
# Every function starts with `emulate -L zsh`, so the user's options never leak in or out.

# Guards first: interactive, line editor on, a real terminal, zsh >= 5.0.
[[ -o interactive ]] || return 0
[[ -o zle ]] || return 0
[[ ${TERM-} != dumb ]] || return 0
((${ZSH_VERSION%%.*} >= 5)) || return 0

typeset -ga __seamless_mode_keymaps=(emacs viins vicmd)

# Print a key's bindings in every keymap as replayable `bindkey` lines (`-r` when unbound).
seamless-mode--save() {
  emulate -L zsh
  local key=$1 km line
  for km in $__seamless_mode_keymaps; do
    line=$(bindkey -L -M $km -- $key)
    if [[ -z $line || $line == *' undefined-key' ]]; then
      print -r -- "bindkey -M $km -r ${(q)key}"
    else
      print -r -- $line
    fi
  done
}

seamless-mode--replay() {
  emulate -L zsh
  local line
  for line in "$@"; do
    eval $line
  done
}

# How to run the rewriter: asked once from the installed command (--fast-argv: the same module
# without the console-script wrapper and `site`, which dominate its start-up), then reused.
seamless-mode--rewriter() {
  emulate -L zsh
  [[ -n ${__seamless_mode_rewriter[1]-} && -f ${__seamless_mode_rewriter[4]-} ]] && return 0
  typeset -ga __seamless_mode_rewriter=(${(f)"$(command seamless-mode-rewrite --fast-argv 2>/dev/null)"})
  (( $#__seamless_mode_rewriter == 4 )) || __seamless_mode_rewriter=(seamless-mode-rewrite)
}

seamless-mode--rewrite() {
  emulate -L zsh
  local line=$1 name
  local -a args names
  seamless-mode--rewriter
  [[ -n ${SEAMLESS_MODE_OPTS-} ]] && args+=(--opts "$SEAMLESS_MODE_OPTS")
  if [[ $line == *'$'* ]]; then
    names=(${(f)"$(command $__seamless_mode_rewriter --list-vars -- "$line")"}) || return 1
    for name in $names; do
      (( ${(P)+name} )) && args+=(--set "$name=${(P)name}")
    done
  fi
  command $__seamless_mode_rewriter $args -- "$line"
}

# Wrapper of accept-line while the mode is on: replace the line by `seamless-mode-exec` when the
# rewriter accepts it, then chain to the user's accept-line widget or to the builtin one.
seamless-mode--accept-line() {
  emulate -L zsh
  local out
  typeset -g __seamless_mode_R=
  seamless-mode--rewriter  # here, not only in the $(...) below, so that the answer is kept
  if out=$(seamless-mode--rewrite "$BUFFER") && [[ -n $out ]]; then
    typeset -g __seamless_mode_L=$BUFFER __seamless_mode_R=$out
    BUFFER=seamless-mode-exec
    CURSOR=$#BUFFER
  fi
  if [[ $__seamless_mode_saved_widget == user:* ]]; then
    zle seamless-mode--orig-accept-line -- "$@"
  else
    zle .accept-line
  fi
}

# zshaddhistory hook while the mode is on: the `seamless-mode-exec` line is not remembered.
seamless-mode--addhistory() {
  emulate -L zsh
  [[ ${1%%$'\n'} != seamless-mode-exec ]]
}

# The line that Enter accepted: the typed line goes to history, R runs.
seamless-mode-exec() {
  emulate -L zsh
  local r=${__seamless_mode_R-} l=${__seamless_mode_L-}
  typeset -g __seamless_mode_R=
  [[ -n $r ]] || return 0
  print -rs -- "$l"
  [[ ${SEAMLESS_MODE_ECHO-} == 1 ]] && print -r -- $r >&2
  eval "$r"
}

seamless-mode-on() {
  emulate -L zsh
  typeset -g SEAMLESS_MODE_OPTS=${(j: :)${(q)@}}
  typeset -g +x SEAMLESS_MODE_OPTS
  seamless-mode--enable
}

# Turn the mode on keeping SEAMLESS_MODE_OPTS (the hotkey path).
seamless-mode--enable() {
  emulate -L zsh
  local km
  if [[ ${__seamless_mode_on-} != 1 ]]; then
    typeset -ga __seamless_mode_saved_enter=(
      "${(@f)$(seamless-mode--save '^M')}" "${(@f)$(seamless-mode--save '^J')}")
    typeset -g __seamless_mode_saved_widget=${widgets[accept-line]-builtin}
    if [[ $__seamless_mode_saved_widget == user:* ]]; then
      zle -A accept-line seamless-mode--orig-accept-line
    fi
    zle -N accept-line seamless-mode--accept-line
    for km in $__seamless_mode_keymaps; do
      bindkey -M $km '^M' accept-line
      bindkey -M $km '^J' accept-line
    done
    typeset -ga zshaddhistory_functions
    zshaddhistory_functions+=(seamless-mode--addhistory)
    typeset -g __seamless_mode_saved_prompt=$PROMPT
    PROMPT="%F{magenta}[seamless-mode]%f $PROMPT"
    typeset -g __seamless_mode_on=1
  fi
  seamless-mode--say 'seamless mode ON'
}

seamless-mode-off() {
  emulate -L zsh
  if [[ ${__seamless_mode_on-} == 1 ]]; then
    if [[ $__seamless_mode_saved_widget == user:* ]]; then
      zle -A seamless-mode--orig-accept-line accept-line
      zle -D seamless-mode--orig-accept-line
    else
      zle -A .accept-line accept-line
    fi
    seamless-mode--replay $__seamless_mode_saved_enter
    zshaddhistory_functions=(${zshaddhistory_functions:#seamless-mode--addhistory})
    PROMPT=$__seamless_mode_saved_prompt
    typeset -g __seamless_mode_on=0
  fi
  seamless-mode--say 'seamless mode OFF'
}

# A message on stderr; inside a widget the display is invalidated first and the prompt redrawn.
seamless-mode--say() {
  emulate -L zsh
  if zle; then
    zle -I
    print -r -- $1 >&2
    zle reset-prompt
  else
    print -r -- $1 >&2
  fi
}

seamless-mode-toggle() {
  emulate -L zsh
  if [[ ${__seamless_mode_on-} == 1 ]]; then
    seamless-mode-off
  else
    seamless-mode--enable
  fi
}

seamless-mode-unbind() {
  emulate -L zsh
  [[ ${__seamless_mode_on-} == 1 ]] && seamless-mode-off
  if [[ -n ${__seamless_mode_hotkey-} ]]; then
    seamless-mode--replay $__seamless_mode_saved_hotkey
    zle -D seamless-mode-toggle
  fi
  typeset -g __seamless_mode_hotkey=
  return 0
}

# Bind the hotkey once; its previous bindings are captured for seamless-mode-unbind.
() {
  emulate -L zsh
  local km key=${SEAMLESS_MODE_ZSH_HOTKEY-'^Uu'}
  [[ -z ${__seamless_mode_hotkey-} && -n $key ]] || return 0
  typeset -g __seamless_mode_hotkey=$key
  typeset -ga __seamless_mode_saved_hotkey=("${(@f)$(seamless-mode--save $key)}")
  zle -N seamless-mode-toggle
  for km in $__seamless_mode_keymaps; do
    bindkey -M $km $key seamless-mode-toggle
  done
}
return 0
