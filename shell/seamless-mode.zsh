# Seamless mode for interactive zsh >= 5.0 (contract in shell/README.md).
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
# The rewriter's built-in skip words are asked once too, so that the shell can decline the
# usual lines (builtins, `cd`, `git`, ...) without starting Python at all.
seamless-mode--rewriter() {
  emulate -L zsh
  [[ -n ${__seamless_mode_rewriter[1]-} && -f ${__seamless_mode_rewriter[4]-} ]] && return 0
  typeset -ga __seamless_mode_rewriter=(${(f)"$(command seamless-mode-rewrite --fast-argv 2>/dev/null)"})
  (( $#__seamless_mode_rewriter == 4 )) || __seamless_mode_rewriter=(seamless-mode-rewrite)
  local word
  for word in ${=${"$(command $__seamless_mode_rewriter --skip-words 2>/dev/null)"}}; do
    __seamless_mode_skip[$word]=1
  done
}

# Is WORD run by the shell itself (alias, reserved word, function, builtin) rather than as a
# program? The same answer as `whence -w`, without a subshell.
seamless-mode--shell-word() {
  [[ -z $1 ]] || (( $+aliases[$1] || $+functions[$1] || $+builtins[$1] || $reswords[(Ie)$1] ))
}

# Decline early, in the shell: blank lines, comments, and lines whose first word (after
# NAME=VALUE words) is a shell word or a skip word. Everything else goes to the rewriter.
seamless-mode--quick-decline() {
  emulate -L zsh -o extendedglob
  local word
  local -a user=(${(s: :)${SEAMLESS_MODE_SKIP//[,:]/ }})
  for word in ${(z)1}; do
    [[ $word == [[:alpha:]_][[:alnum:]_]#(|+)=* ]] && continue
    [[ $word == '#'* ]] && return 0
    word=${(Q)word}
    [[ $word == seamless* || -n ${__seamless_mode_skip[$word]-} ]] && return 0
    (( $user[(Ie)$word] )) && return 0
    seamless-mode--shell-word $word
    return
  done
  return 0
}

seamless-mode--rewrite() {
  emulate -L zsh
  local line=$1 name
  local -a args=(--commands) names
  seamless-mode--rewriter
  [[ -n ${SEAMLESS_MODE_OPTS-} ]] && args+=(--opts "$SEAMLESS_MODE_OPTS")
  [[ -n ${SEAMLESS_MODE_SKIP-} ]] && args+=(--skip "$SEAMLESS_MODE_SKIP")
  if [[ $line == *'$'* ]]; then
    names=(${(f)"$(command $__seamless_mode_rewriter --list-vars -- "$line")"}) || return 1
    for name in $names; do
      (( ${(P)+name} )) && args+=(--set "$name=${(P)name}")
    done
  fi
  command $__seamless_mode_rewriter $args -- "$line"
}

# The zle-line-finish hook: it runs once the line editor is done with a line, after whatever
# widget accepted it (accept-line, a user's or a plugin's wrapper of it). Only a first line
# (CONTEXT start; a continuation line has CONTEXT cont) is considered, so a command typed over
# several lines is never rewritten line by line. When the rewriter accepts the line, the line
# is kept and its first word aliased (seamless-mode--alias), or else it becomes
# `seamless-mode-exec`. No `emulate -L` here: interactivecomments, when the alias needs it, must
# outlive this function (seamless-mode--unalias restores it).
seamless-mode--line-finish() {
  seamless-mode--finish
  [[ -n ${__seamless_mode_alias-} && ! -o interactivecomments ]] || return 0
  setopt interactivecomments
  typeset -g __seamless_mode_comments=1
}

# The work of the line-finish hook.
seamless-mode--finish() {
  emulate -L zsh
  [[ ${__seamless_mode_on-} == 1 && $CONTEXT == start && -z $PREBUFFER ]] || return 0
  typeset -g __seamless_mode_R=
  local line=$BUFFER typed=$BUFFER out word
  local -a words
  # History expansion first (`!$`, `!!`), as zsh would do it; a line where it does nothing or
  # fails runs as typed.
  if [[ -o banghist && -n $histchars && $line == *${histchars[1]}* ]]; then
    [[ -o histverify ]] && return 0
    zle .expand-history
    line=$BUFFER
    BUFFER=$typed
    [[ $line != $typed ]] || return 0
  fi
  seamless-mode--quick-decline $line && return 0
  seamless-mode--rewriter  # here, not only in the $(...) below, so that the answer is kept
  out=$(seamless-mode--rewrite $line) || return 0
  words=(${(f)out})
  (( $#words )) || return 0
  # After R come the command words of the line: all of them must be programs.
  for word in ${words[2,-1]}; do
    seamless-mode--shell-word $word && return 0
  done
  typeset -g __seamless_mode_L=$line __seamless_mode_R=$words[1]
  if seamless-mode--alias $words[2] $line; then
    BUFFER=$line  # `!` expanded: zsh does not expand it inside the comment
    return 0
  fi
  BUFFER=seamless-mode-exec
  CURSOR=$#BUFFER
}

# The usual way to run R: the typed line stays as it is, and its first command word WORD becomes,
# for this one line, the alias `seamless-mode-exec #`: the parser reads `seamless-mode-exec` and a
# comment up to the end of the line. The screen keeps the typed line, and preexec's $1 (zsh's
# history line) is the typed line (`!` expanded); $2 and $3 are `seamless-mode-exec`. zsh would
# record the line as one history word, so the zshaddhistory hook declines it and
# seamless-mode-exec adds it, split into words, as for a replaced line.
# Only when WORD is literally the first word of LINE (after NAME=VALUE words), unquoted (a path
# is fine: zsh takes any such word as an alias name), with the `aliases` option on; otherwise
# status 1.
seamless-mode--alias() {
  emulate -L zsh -o extendedglob
  local word=$1 first
  [[ -o aliases && -n $word && $word != *[=\\\'\"\$\`]* && -z ${aliases[$word]-} ]] || return 1
  for first in ${(z)2}; do
    [[ $first == [[:alpha:]_][[:alnum:]_]#(|+)=* ]] || break
  done
  [[ $first == $word ]] || return 1
  aliases[$word]='seamless-mode-exec #'
  typeset -g __seamless_mode_alias=$word
}

# Remove the alias of seamless-mode--alias; with "all", also give interactivecomments back its
# value (only from a caller without `emulate -L`, or the change would be undone on return).
seamless-mode--unalias() {
  local word=${__seamless_mode_alias-}
  typeset -g __seamless_mode_alias=
  [[ -n $word && ${aliases[$word]-} == 'seamless-mode-exec #' ]] && unalias -- $word
  if [[ ${1-} == all && -n ${__seamless_mode_comments-} ]]; then
    unsetopt interactivecomments
    typeset -g __seamless_mode_comments=
  fi
  return 0
}

# zshaddhistory hook, the first hook after zsh has parsed the line: the alias of an aliased line
# is removed here already. Neither an aliased line nor the `seamless-mode-exec` line is
# remembered: seamless-mode-exec adds the typed line. No `emulate -L` (see seamless-mode--unalias).
seamless-mode--addhistory() {
  if [[ -n ${__seamless_mode_alias-} ]]; then
    seamless-mode--unalias all
    return 1
  fi
  [[ ${1%%$'\n'} != seamless-mode-exec ]]
}

# The command that Enter runs instead of the typed line L: L goes to history, R runs. The history
# options that zsh applies to a typed line are applied here (print -S alone would not). print -S
# (zsh >= 5.3) splits the line into history words as the lexer does (for `!$`); older zsh gets
# the shell words as arguments of print -s. If the zshaddhistory hook did not run (the alias is
# still there), zsh has recorded the line itself.
seamless-mode-exec() {
  emulate -L zsh
  local r=${__seamless_mode_R-} l=${__seamless_mode_L-} recorded=${__seamless_mode_alias-}
  typeset -g __seamless_mode_R=
  seamless-mode--unalias
  [[ -n $r ]] || return 0
  if [[ -z $recorded ]] && ! [[ -o histignorespace && $l == ' '* ]] &&
     ! [[ -o histignoredups && $l == ${history[$((HISTCMD - 1))]-} ]]; then
    print -rS -- $l 2>/dev/null || print -rs -- ${(z)l}
  fi
  [[ ${SEAMLESS_MODE_ECHO-} == 1 ]] && print -r -- $r >&2
  eval "$r"
}

seamless-mode-on() {
  emulate -L zsh
  typeset -g SEAMLESS_MODE_OPTS=${(j: :)${(q)@}}
  typeset -g +x SEAMLESS_MODE_OPTS
  seamless-mode--enable
}

# The mode is a flag: no key binding or widget changes when it goes on or off. Only the marker
# moves, in whatever the prompt is now.
seamless-mode--enable() {
  emulate -L zsh
  typeset -g __seamless_mode_on=1
  [[ $PROMPT == *$__seamless_mode_marker* ]] || PROMPT=$__seamless_mode_marker$PROMPT
  seamless-mode--say 'seamless mode ON'
}

seamless-mode-off() {
  emulate -L zsh
  typeset -g __seamless_mode_on=0
  PROMPT=${PROMPT/$__seamless_mode_marker}
  seamless-mode--say 'seamless mode OFF'
}

# precmd hook: no alias of ours is left (a line that did not run), and the marker is in the
# prompt exactly while the mode is on (a venv's activate or deactivate may have put back an older
# prompt meanwhile).
seamless-mode--precmd() {
  seamless-mode--unalias all
  seamless-mode--marker
}

seamless-mode--marker() {
  emulate -L zsh
  if [[ ${__seamless_mode_on-} == 1 ]]; then
    [[ $PROMPT == *$__seamless_mode_marker* ]] || PROMPT=$__seamless_mode_marker$PROMPT
  else
    PROMPT=${PROMPT/$__seamless_mode_marker}
  fi
}

# A message on stderr. Inside a widget (the hotkey), `zle -I` first: the message goes on its own
# line above, and zle draws a fresh prompt (with the marker as it is now) and the line being
# edited below it once the widget returns. (A `zle reset-prompt` after the message would redraw
# the old prompt's place and erase the message.)
seamless-mode--say() {
  emulate -L zsh
  zle && zle -I
  print -r -- $1 >&2
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
  add-zle-hook-widget -d line-finish seamless-mode--line-finish 2>/dev/null
  add-zsh-hook -d precmd seamless-mode--precmd
  zshaddhistory_functions=(${zshaddhistory_functions:#seamless-mode--addhistory})
  typeset -g __seamless_mode_hooked=
  if [[ -n ${__seamless_mode_hotkey-} ]]; then
    seamless-mode--replay $__seamless_mode_saved_hotkey
    zle -D seamless-mode-toggle
  fi
  typeset -g __seamless_mode_hotkey=
  return 0
}

# Hooks once per shell: zle-line-finish (through add-zle-hook-widget, which every plugin
# manager and plugin shares), precmd and zshaddhistory.
() {
  emulate -L zsh
  zmodload -i zsh/parameter
  typeset -gA __seamless_mode_skip
  typeset -g __seamless_mode_marker='%F{magenta}[seamless-mode]%f '
  [[ -z ${__seamless_mode_hooked-} ]] || return 0
  typeset -g __seamless_mode_hooked=1
  autoload -Uz add-zle-hook-widget add-zsh-hook
  add-zle-hook-widget line-finish seamless-mode--line-finish
  add-zsh-hook precmd seamless-mode--precmd
  typeset -ga zshaddhistory_functions
  zshaddhistory_functions+=(seamless-mode--addhistory)
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
