#!/usr/bin/env bats
# seamless-mode-bind.sh: sourcing, bindings and restore in bash and zsh (SPEC §7).
# Interactive shells get a terminal through `script`; keys are not typed here (see tests/shell/).

load shell_mode_helper

BASH_SNAPSHOT='for km in emacs vi-insert vi-command; do bind -m $km -p; bind -m $km -s; bind -m $km -X; done'
ZSH_SNAPSHOT='for km in emacs viins vicmd; do bindkey -L -M $km; done; zle -lL'

@test "sourcing in bash under -e -u -o pipefail prints nothing and returns 0" {
    in_pty bash "source '$BIND_SCRIPT'; echo \"rc=\$?\"; type -t seamless-mode-on"
    assert_success
    assert_output "$(printf 'rc=0\nfunction')"
}

@test "sourcing in zsh under -e -u -o pipefail prints nothing and returns 0" {
    in_pty zsh "source '$BIND_SCRIPT'; echo \"rc=\$?\"; whence -w seamless-mode-on"
    assert_success
    assert_output "$(printf 'rc=0\nseamless-mode-on: function')"
}

@test "sourcing defines the four public functions in bash and zsh" {
    in_pty bash "source '$BIND_SCRIPT'; type -t seamless-mode-on seamless-mode-off seamless-mode-toggle seamless-mode-unbind"
    assert_output "$(printf 'function\nfunction\nfunction\nfunction')"
    in_pty zsh "source '$BIND_SCRIPT'; whence -w seamless-mode-on seamless-mode-off seamless-mode-toggle seamless-mode-unbind"
    assert_output "$(printf 'seamless-mode-%s: function\n' on off toggle unbind | sed '$!b')"
}

@test "sourcing twice gives identical bash bindings" {
    in_pty bash "source '$BIND_SCRIPT'; a=\$($BASH_SNAPSHOT); source '$BIND_SCRIPT'; b=\$($BASH_SNAPSHOT)
[[ \$a == \"\$b\" ]] && echo same; [[ \$a == *seamless-mode-toggle* ]] && echo bound"
    assert_success
    assert_output "$(printf 'same\nbound')"
}

@test "sourcing twice gives identical zsh bindings" {
    in_pty zsh "source '$BIND_SCRIPT'; a=\$($ZSH_SNAPSHOT); source '$BIND_SCRIPT'; b=\$($ZSH_SNAPSHOT)
[[ \$a == \"\$b\" ]] && echo same; [[ \$a == *seamless-mode-toggle* ]] && echo bound"
    assert_success
    assert_output "$(printf 'same\nbound')"
}

@test "the hotkey is bound in every bash keymap and nothing uses a Ctrl-U digit or Escape prefix" {
    in_pty bash "source '$BIND_SCRIPT'; seamless-mode-on 2>/dev/null
for km in emacs vi-insert vi-command; do bind -m \$km -X | grep -c 'C-uu.*seamless-mode-toggle'; done
{ $BASH_SNAPSHOT; } | grep -E '^\"(\\\\C-u[0-9]|\\\\e).*(SM|seamless)' || echo none"
    assert_success
    assert_output "$(printf '1\n1\n1\nnone')"
}

@test "the hotkey is bound in every zsh keymap" {
    in_pty zsh "source '$BIND_SCRIPT'; for km in emacs viins vicmd; do bindkey -M \$km '^Uu'; done"
    assert_success
    assert_output "$(printf '\"^Uu\" seamless-mode-toggle\n%.0s' 1 2 3 | sed '$!b')"
}

@test "an empty SEAMLESS_MODE_HOTKEY binds no hotkey" {
    SEAMLESS_MODE_HOTKEY= in_pty bash "source '$BIND_SCRIPT'; bind -X | grep -c seamless-mode-toggle || true"
    assert_output "0"
    SEAMLESS_MODE_ZSH_HOTKEY= in_pty zsh "source '$BIND_SCRIPT'; bindkey -L | grep -c seamless-mode-toggle || true"
    assert_output "0"
}

@test "a non-interactive bash defines nothing" {
    run bash -c "source '$BIND_SCRIPT'; type seamless-mode-on"
    assert_failure
    run bash -c "source '$BIND_SCRIPT'; echo \"rc=\$?\""
    assert_output "rc=0"
}

@test "a non-interactive zsh defines nothing" {
    run zsh -fc "source '$BIND_SCRIPT'; whence seamless-mode-on"
    assert_failure
}

@test "TERM=dumb defines nothing" {
    TERM=dumb in_pty bash "source '$BIND_SCRIPT'; type -t seamless-mode-on || echo undefined"
    assert_output "undefined"
    TERM=dumb in_pty zsh "source '$BIND_SCRIPT'; whence seamless-mode-on || echo undefined"
    assert_output "undefined"
}

@test "sh sources the script silently and gets 0" {
    run sh -c ". '$BIND_SCRIPT'; echo \"rc=\$?\""
    assert_success
    assert_output "rc=0"
}

@test "sourcing changes no bash option and exports nothing" {
    in_pty bash "a=\$(set -o; shopt; export -p); source '$BIND_SCRIPT'; seamless-mode-on -v 2>/dev/null
b=\$(set -o; shopt; export -p); [[ \$a == \"\$b\" ]] && echo unchanged"
    assert_output "unchanged"
}

@test "sourcing changes no zsh option and exports nothing" {
    in_pty zsh "a=\$(setopt; export); source '$BIND_SCRIPT'; seamless-mode-on -v 2>/dev/null
b=\$(setopt; export); [[ \$a == \"\$b\" ]] && echo unchanged"
    assert_output "unchanged"
}

@test "mode-on keeps the options quoted in an unexported SEAMLESS_MODE_OPTS" {
    in_pty bash "source '$BIND_SCRIPT'; seamless-mode-on -v --stage 'a b' 2>/dev/null
echo \"[\$SEAMLESS_MODE_OPTS]\"; env | grep -c '^SEAMLESS_MODE_OPTS=' || true"
    assert_output "$(printf '%s\n0' '[-v --stage a\ b]')"
    in_pty zsh "source '$BIND_SCRIPT'; seamless-mode-on -v --stage 'a b' 2>/dev/null
echo \"[\$SEAMLESS_MODE_OPTS]\"; env | grep -c '^SEAMLESS_MODE_OPTS=' || true"
    assert_output "$(printf '%s\n0' '[-v --stage a\ b]')"
}

@test "mode-on and mode-off announce themselves on stderr" {
    in_pty bash "source '$BIND_SCRIPT'; seamless-mode-on 2>&1 >/dev/null; seamless-mode-off 2>&1 >/dev/null"
    assert_output "$(printf 'seamless mode ON\nseamless mode OFF')"
    in_pty zsh "source '$BIND_SCRIPT'; seamless-mode-on 2>&1 >/dev/null; seamless-mode-off 2>&1 >/dev/null"
    assert_output "$(printf 'seamless mode ON\nseamless mode OFF')"
}

@test "mode-on rebinds both Enter keys in every bash keymap" {
    in_pty bash "source '$BIND_SCRIPT'; seamless-mode-on 2>/dev/null
for km in emacs vi-insert vi-command; do bind -m \$km -s | grep -c '^\"\\\\C-[mj]\": \"\\\\C-x\\\\C-_SM1\\\\C-g\\\\C-x\\\\C-_SM2\\\\C-g\"'; done"
    assert_output "$(printf '2\n2\n2')"
}

@test "mode-off restores a user's own bash Enter bindings exactly" {
    in_pty bash "bind '\"\\C-m\": \"\\C-e # mine\\C-j\"'; bind -m vi-insert -x '\"\\C-j\": echo mine'
source '$BIND_SCRIPT'; a=\$($BASH_SNAPSHOT)
seamless-mode-on 2>/dev/null; seamless-mode-off 2>/dev/null; b=\$($BASH_SNAPSHOT)
[[ \$a == \"\$b\" ]] && echo restored; bind -m vi-insert -X | grep -F 'C-j'"
    assert_success
    assert_output "$(printf '%s\n' restored '"\C-j": "echo mine"' | sed '$!b')"
}

@test "zsh mode-on and mode-off leave a user's accept-line widget and Enter bindings as they are" {
    in_pty zsh "my-accept() { zle .accept-line }; zle -N accept-line my-accept; bindkey -M vicmd '^J' vi-join
source '$BIND_SCRIPT'; a=\$($ZSH_SNAPSHOT)
seamless-mode-on 2>/dev/null; echo \"on: \${widgets[accept-line]}\"
seamless-mode-off 2>/dev/null; b=\$($ZSH_SNAPSHOT)
[[ \$a == \"\$b\" ]] && echo restored; echo \"off: \${widgets[accept-line]}\""
    assert_success
    assert_output "$(printf 'on: user:my-accept\nrestored\noff: user:my-accept')"
}

@test "mode-on prefixes the prompt in magenta and mode-off restores it" {
    in_pty bash "PS1='\\u> '; source '$BIND_SCRIPT'; seamless-mode-on 2>/dev/null; printf '%s\n' \"\$PS1\"
seamless-mode-off 2>/dev/null; printf '%s\n' \"\$PS1\""
    assert_output "$(printf '%s\n' '\[\e[35m\][seamless-mode]\[\e[0m\] \u> ' '\u> ' | sed '$!b')"
    in_pty zsh "PROMPT='%n> '; source '$BIND_SCRIPT'; seamless-mode-on 2>/dev/null; print -r -- \"\$PROMPT\"
seamless-mode-off 2>/dev/null; print -r -- \"\$PROMPT\""
    assert_output "$(printf '%s\n' '%F{magenta}[seamless-mode]%f %n> ' '%n> ' | sed '$!b')"
}

@test "unbind removes the hotkey and the private sequences in bash" {
    in_pty bash "source '$BIND_SCRIPT'; seamless-mode-on 2>/dev/null; seamless-mode-unbind 2>/dev/null
{ $BASH_SNAPSHOT; } | grep -c 'seamless-mode' || true"
    assert_output "0"
}

@test "unbind removes the hotkey in zsh" {
    in_pty zsh "source '$BIND_SCRIPT'; seamless-mode-on 2>/dev/null; seamless-mode-unbind 2>/dev/null
{ $ZSH_SNAPSHOT; } | grep -c 'seamless-mode' || true"
    assert_output "0"
}

@test "the shell function passes the values of set variables to the rewriter in bash, then the command words" {
    in_pty bash "source '$BIND_SCRIPT'; F='my file.txt'; X='a; touch PWNED'
seamless-mode--rewrite 'cat \"\$F\" \$X \$NOT_SET'"
    assert_output "$(printf '%s\n' "seamless-run -c 'cat \"my file.txt\" '\\''a;'\\'' touch PWNED \$NOT_SET'" cat | sed '$!b')"
}

@test "the shell function passes the values of set variables to the rewriter in zsh, then the command words" {
    in_pty zsh "source '$BIND_SCRIPT'; F='my file.txt'; X='a; touch PWNED'
seamless-mode--rewrite 'cat \"\$F\" \$X \$NOT_SET'"
    assert_output "$(printf '%s\n' "seamless-run -c 'cat \"my file.txt\" '\\''a;'\\'' touch PWNED \$NOT_SET'" cat | sed '$!b')"
}

@test "shellcheck finds nothing in the bash part and the build script" {
    run shellcheck "$REPO_ROOT/shell/seamless-mode.bash" "$REPO_ROOT/shell/build.sh"
    assert_success
    assert_output ""
}

@test "zsh -n finds nothing in the zsh part and in the generated script" {
    run zsh -n "$REPO_ROOT/shell/seamless-mode.zsh"
    assert_success
    run zsh -n "$BIND_SCRIPT"
    assert_success
}

@test "bin/seamless-mode-bind.sh is the build of shell/" {
    run sh "$REPO_ROOT/shell/build.sh" "$BATS_TEST_TMPDIR/built.sh"
    assert_success
    run cmp "$BATS_TEST_TMPDIR/built.sh" "$BIND_SCRIPT"
    assert_success
}

@test "running the bind script instead of sourcing it says to source it, in one line, exit 2 (bash and zsh)" {
    local shell
    for shell in bash zsh; do
        run --separate-stderr "$shell" "$BIND_SCRIPT"
        [ "$status" -eq 2 ] || flunk "$shell: exit status $status"
        [ "$stderr" = 'seamless-mode-bind.sh: source this file, do not run it: source "$(command -v seamless-mode-bind.sh)"' ] \
            || flunk "$shell: stderr was: $stderr"
        [ -z "$output" ] || flunk "$shell: stdout was: $output"
    done
}
