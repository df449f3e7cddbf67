package ibex.agent;

import ibex.core.Log;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Processes as Linux's /proc shows them. A process is named by its pid and its start time, so a pid
 * that was reused is never taken for the process it once was; a zombie counts as gone (it has exited,
 * and on hosts whose init does not reap, orphans stay zombies forever).
 */
final class Procs {
    private static final Path PROC = Path.of("/proc");

    private Procs() {
        throw new AssertionError();
    }

    /**
     * One process as seen at one moment: ids from /proc/PID/stat, start time in clock ticks since
     * boot. Equal when they name the same process (pid and start time): its state and parent change
     * while it lives, and a run's processes are gathered from several looks (a killed script's child
     * was listed twice, running and then frozen under init).
     */
    record Proc(long pid, long ppid, long pgid, long sid, char state, long start) {
        boolean exited() {
            return state == 'Z' || state == 'X' || state == 'x';
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Proc p && p.pid == pid && p.start == start;
        }

        @Override
        public int hashCode() {
            return Long.hashCode(pid) * 31 + Long.hashCode(start);
        }
    }

    /** The process now at {@code pid}, if any. */
    static Optional<Proc> read(long pid) {
        String stat;
        try {
            stat = Files.readString(PROC.resolve(Long.toString(pid)).resolve("stat"), StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            return Optional.empty();
        }
        // "pid (comm) state ppid pgrp session ... starttime(22)"; comm may hold spaces and ')'.
        int close = stat.lastIndexOf(')');
        if (close < 0) {
            return Optional.empty();
        }
        var f = stat.substring(close + 2).split(" ");
        if (f.length < 20) {
            return Optional.empty();
        }
        try {
            return Optional.of(new Proc(pid, Long.parseLong(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3]),
                    f[0].charAt(0), Long.parseLong(f[19])));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** True while the process {@code p} names (same pid, same start) exists and has not exited. */
    static boolean alive(Proc p) {
        var now = read(p.pid());
        return now.isPresent() && now.get().start() == p.start() && !now.get().exited();
    }

    /** True while the process {@code p} names is in the process table, a zombie included. */
    static boolean present(Proc p) {
        var now = read(p.pid());
        return now.isPresent() && now.get().start() == p.start();
    }

    /** Every process now, exited ones included. */
    static List<Proc> all() {
        var out = new ArrayList<Proc>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(PROC)) {
            for (var p : dir) {
                var name = p.getFileName().toString();
                if (!name.isEmpty() && name.chars().allMatch(Character::isDigit)) {
                    read(Long.parseLong(name)).ifPresent(out::add);
                }
            }
        } catch (IOException e) {
            Log.warn("agent", "cannot list /proc: " + e.getMessage());
        }
        return out;
    }

    /** The argv of a process; empty when it is gone or has exited. */
    static List<String> cmdline(long pid) {
        byte[] raw;
        try {
            raw = Files.readAllBytes(PROC.resolve(Long.toString(pid)).resolve("cmdline"));
        } catch (IOException e) {
            return List.of();
        }
        var out = new ArrayList<String>();
        int from = 0;
        for (int i = 0; i < raw.length; i++) {
            if (raw[i] == 0) {
                out.add(new String(raw, from, i - from, StandardCharsets.UTF_8));
                from = i + 1;
            }
        }
        return out;
    }

    /**
     * Everything a run started, alive now: the members of the session its wrapper leads (that
     * catches grandchildren whose parents died) and every descendant of the wrapper (that catches
     * children that moved to a session of their own while their parent lives).
     */
    static List<Proc> tree(long leader) {
        var all = all();
        var children = new HashMap<Long, List<Proc>>();
        var found = new LinkedHashMap<Long, Proc>();
        for (var p : all) {
            children.computeIfAbsent(p.ppid(), k -> new ArrayList<>()).add(p);
            if (p.sid() == leader && !p.exited()) {
                found.put(p.pid(), p);
            }
        }
        var todo = new ArrayDeque<Long>(found.keySet());
        todo.push(leader);
        var visited = new HashSet<Long>(todo);
        while (!todo.isEmpty()) {
            for (var c : children.getOrDefault(todo.pop(), List.of())) {
                if (visited.add(c.pid())) {
                    if (!c.exited()) {
                        found.put(c.pid(), c);
                    }
                    todo.push(c.pid());
                }
            }
        }
        return List.copyOf(found.values());
    }

    /**
     * Sends {@code signal} ("TERM", "KILL") to the process group {@code pgid} (when a live member of
     * it is among {@code procs}, so a reused id is never hit), then to each of {@code procs} still
     * alive, in one {@code kill}. The group goes first, at once: a script must not see its children
     * die and carry on with its next command before its own signal comes.
     */
    static void signal(String signal, long pgid, Collection<Proc> procs) {
        var live = procs.stream().filter(Procs::alive).toList();
        if (live.isEmpty()) {
            return;
        }
        var targets = new ArrayList<String>();
        if (live.stream().anyMatch(p -> p.pgid() == pgid)) {
            targets.add("-" + pgid);
        }
        live.stream().map(Proc::pid).distinct().sorted(java.util.Comparator.reverseOrder())
                .forEach(pid -> targets.add(Long.toString(pid)));
        kill(signal, targets);
    }

    private static void kill(String signal, List<String> targets) {
        var args = new ArrayList<>(List.of("/bin/kill", "-s", signal, "--"));
        args.addAll(targets);
        try {
            Command.start(new ProcessBuilder(args).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD))
                    .waitFor();
        } catch (IOException e) {
            Log.warn("agent", "kill -s " + signal + " failed: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
