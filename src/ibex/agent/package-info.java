/**
 * The agent: keeps one connection to a server, runs assigned scripts, reports their results.
 * {@link ibex.agent.Reconcile} decides (pure), {@link ibex.agent.Runner} runs processes,
 * {@link ibex.agent.MetaDir} is the crash-safe journal, {@link ibex.agent.Live} and
 * {@link ibex.agent.Output} turn output files into reports, {@link ibex.agent.Procs} reads /proc.
 * Imports core, wire, config; never the store or the server, so the agent cannot touch the database.
 *
 * <h2>What the agent promises (docs/agent.md has the operator's view)</h2>
 * <ul>
 * <li><b>Never twice.</b> {@code <clock>.run} is created before a script starts; a (task,
 *     clock) with that log is never started again, across reconnects and restarts.</li>
 * <li><b>Done means the script exited.</b> Every run is {@code /bin/sh -c WRAP ...}
 *     ({@link ibex.agent.Command}) in a session of its own
 *     ({@link ibex.agent.Spawner}): the wrapper waits for the script alone and appends its exit
 *     status to the run's log. Output goes to files, not pipes, so a background child that keeps
 *     stdout open neither holds the run nor is touched by it.</li>
 * <li><b>Kill and timeout reach the whole tree.</b> TERM to the run's process group and to every
 *     process of its session or below its wrapper, KILL to all of them (looked up again) after
 *     {@code [Task] KillGrace}; the result waits until they are gone and is {@code killfailed} if one
 *     outlives KILL. A process that left the session and whose parent is gone cannot be found.</li>
 * <li><b>Restarts lose nothing.</b> On start the agent looks at every run without a result: a live
 *     wrapper (found by the log's path in its argv, pid checked by start time) is adopted, timed
 *     from its start and killable; a run that ended meanwhile is finished from its log's exit and
 *     stop lines; only a wrapper gone without a status is reported failed, saying so. Results
 *     stay in the log's done line until the server acks them; one goes again when the reply to
 *     the heartbeat that carried it came without its ack, and on every new connection.</li>
 * <li><b>Bounded.</b> Reports carry at most {@code [Task] OutputCap} bytes per stream: head and tail
 *     and one line counting what was left out, cut on character boundaries, invalid UTF-8 replaced.
 *     Memory does not grow with what a script prints. Live output: at most 64 KiB per stream and run
 *     per heartbeat, up to the cap, then one line.</li>
 * <li><b>Accounts.</b> As root, another account is entered with setpriv and a login shell whose
 *     command is a constant; the script file becomes that account's (0700) in a directory it can pass
 *     through but not list. No shell string is built from task input.</li>
 * </ul>
 */
package ibex.agent;
