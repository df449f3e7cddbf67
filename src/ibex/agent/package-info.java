/**
 * The agent: keeps one connection to a server, runs assigned scripts, reports their results.
 * {@link ibex.agent.Reconcile} decides (pure), {@link ibex.agent.Runner} runs processes,
 * {@link ibex.agent.MetaDir} is the crash-safe journal. Imports core, wire, config; never the
 * store or the server, so the agent cannot touch the database.
 */
package ibex.agent;
