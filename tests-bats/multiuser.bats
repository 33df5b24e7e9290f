#!/usr/bin/env bats
# Two local users on one host: the running registry and the store (run as root, which CI is;
# `su nobody` plays the other user, with plain shell commands only: our commands may be
# installed where nobody cannot read them).

load test_helper

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root to act as another user"
    setup_isolated
    # a directory the other user can reach (the bats temp dir is private), used like /tmp
    SHARED=$(mktemp -d /var/tmp/seamless-multiuser.XXXXXX)
    chmod 1777 "$SHARED"
    as_nobody "test -w $SHARED" || flunk "the other user cannot reach $SHARED"
}

teardown() {
    [ -z "${job-}" ] || { kill "$job" 2> /dev/null; wait "$job" 2> /dev/null; } || true
    [ -z "${SHARED-}" ] || rm -rf "$SHARED"
    stop_leftovers
}

as_nobody() {
    su nobody -s /bin/sh -c "$1"
}

@test "a registry directory pre-created by another user is refused: nothing is written through it, its CANCEL stops nothing" {
    as_nobody "mkdir -m 777 $SHARED/seamless-0 $SHARED/seamless-0/running"
    export XDG_RUNTIME_DIR=$SHARED
    seamless-run 'sleep 2; echo done' > out.txt 2> err.txt &
    job=$!
    # the other user cancels whatever appears in the directory it owns
    as_nobody "for i in \$(seq 30); do for d in $SHARED/seamless-0/running/*/; do [ -d \"\$d\" ] && : > \"\$d/CANCEL\"; done; sleep 0.1; done"
    wait "$job" || flunk "seamless-run failed: $(cat err.txt)"
    job=
    assert_file_content out.txt $'done\n'
    [ -z "$(ls -A "$SHARED/seamless-0/running")" ] || flunk "an entry was written into the other user's directory"
    grep -q "seamless-cancel cannot reach this process's jobs: $SHARED/seamless-0 is not a private directory of this user" err.txt \
        || flunk "no warning: $(cat err.txt)"
}

@test "a registry directory that another user made a symlink is not followed" {
    as_nobody "mkdir -m 777 $SHARED/trap && ln -s $SHARED/trap $SHARED/seamless-0"
    export XDG_RUNTIME_DIR=$SHARED
    run seamless-run 'sleep 1; echo done'
    assert_success
    [ -z "$(ls -A "$SHARED/trap")" ] || flunk "an entry was written through the symlink"
}

@test "another user can neither see nor cancel a running job" {
    export XDG_RUNTIME_DIR=$SHARED
    seamless-run 'sleep 3; echo done' > out.txt 2> err.txt &
    job=$!
    for _ in $(seq 50); do [ -n "$(ls -A "$SHARED/seamless-0/running" 2> /dev/null)" ] && break; sleep 0.1; done
    tf=$(ls "$SHARED/seamless-0/running")
    [ -n "$tf" ] || flunk "the job never registered"
    run as_nobody "ls $SHARED/seamless-0/running"
    assert_failure
    [[ "$output" == *"Permission denied"* ]] || flunk "not a permission error"
    run as_nobody ": > $SHARED/seamless-0/running/$tf/CANCEL"
    assert_failure
    wait "$job" || flunk "seamless-run failed: $(cat err.txt)"
    job=
    assert_file_content out.txt $'done\n'
    [ "$(stat -c %a "$SHARED/seamless-0")" = 700 ] || flunk "the registry is not private"
}

@test "with umask 022 another member of the store's group cannot write into a store directory" {
    mkdir "$SHARED/cache"
    chgrp nogroup "$SHARED/cache"
    chmod 2775 "$SHARED/cache"
    (umask 022 && SEAMLESS_CACHE=$SHARED/cache seamless-run 'echo hello' > /dev/null)
    prefix=$SHARED/cache/__TOPLEVEL__/58
    [ "$(stat -c %a "$prefix")" = 2755 ] || flunk "prefix dir mode $(stat -c %a "$prefix")"
    run as_nobody "touch $prefix/planted"
    assert_failure
    [[ "$output" == *"Permission denied"* ]] || flunk "not a permission error"
}

@test "a group shares a cache through a setgid directory and umask 002" {
    mkdir "$SHARED/cache"
    chgrp nogroup "$SHARED/cache"
    chmod 2775 "$SHARED/cache"
    (umask 002 && SEAMLESS_CACHE=$SHARED/cache seamless-run 'echo hello' > /dev/null)
    top=$SHARED/cache/__TOPLEVEL__
    [ "$(stat -c %a:%G "$top/58")" = 2775:nogroup ] || flunk "prefix dir $(stat -c %a:%G "$top/58")"
    [ "$(stat -c %a:%G "$top/seamless.db")" = 664:nogroup ] || flunk "seamless.db $(stat -c %a:%G "$top/seamless.db")"
    run as_nobody "touch $top/58/written-by-a-member && sqlite3 $top/seamless.db \"insert into transformation values ('$(printf 'a%.0s' $(seq 64))', 'b')\""
    assert_success
}
