# A preexec/precmd hook of the same shape as bash-preexec (which has no Debian or npm package):
# a DEBUG trap that reads the command line from `history 1`, and PROMPT_COMMAND wrapped between
# a first entry that saves $? and a last entry that opens the window for the next command.
# preexec_functions get the command line as typed; here they log it to $STUB_LOG.
bash_preexec_imported=defined
preexec_functions=(test_preexec_log)
precmd_functions=()
__hook_ready=

test_preexec_log() { printf 'PREEXEC %s\n' "$1" >> "$STUB_LOG"; }

__hook_precmd() {
    local status=$? fn
    for fn in "${precmd_functions[@]}"; do "$fn"; done
    return "$status"
}

__hook_ready_for_command() { __hook_ready=on; }

__hook_debug() {
    [[ -n $__hook_ready && -z ${COMP_LINE-} && -z ${READLINE_POINT-} ]] || return 0
    __hook_ready=
    local line fn
    line=$(HISTTIMEFORMAT='' builtin history 1)
    line=${line#*[0-9]  }
    for fn in "${preexec_functions[@]}"; do "$fn" "$line"; done
}

PROMPT_COMMAND="__hook_precmd${PROMPT_COMMAND:+;$PROMPT_COMMAND};__hook_ready_for_command"
trap '__hook_debug' DEBUG
