/**
 * The vocabulary: task specs, host and task states with their one transition table, assignments.
 * Records and enums, pure code; imports nothing of ours.
 */
package ibex.core;
