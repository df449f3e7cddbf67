/**
 * Scheduling: the pure {@link ibex.server.sched.Planner} (batch window, tolerance, pause list,
 * finishing) and the loop that applies its plans through the store. Imports core, config, store.
 */
package ibex.server.sched;
