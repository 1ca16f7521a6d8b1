// Package mqtt publishes catd's state and events to an MQTT broker,
// announces catd to Home Assistant (MQTT discovery) and takes the serial
// console's commands from MQTT.
//
// # Topics
//
// Under the topic prefix P (default catd/HOST):
//
//	P/availability   online / offline, retained; offline is also the last will
//	P/cat            ON / OFF, retained: a cat is present
//	P/p_cat          p(cat) of the latest frame, "0.930", retained, at most every PCatEvery
//	P/threshold      the decision threshold in force, "0.254", retained
//	P/learning       JSON, retained: enabled, state, rounds, rounds_accepted, held_out_auc, labels_cat, labels_noncat, frames, model, last_round
//	P/stats          JSON, retained: the last stats event (fps, frames, dropped, corrupt, latency_p50_ms, latency_p99_ms, mqtt_dropped)
//	P/snapshot       JPEG bytes of the last cat_present frame, retained
//	P/event          JSON events: cat_present, cat_gone, trained, config_reloaded, config_refused, checkpoint, error
//	P/set/COMMAND    commands, read: the payload holds the arguments
//	P/reply          JSON answers to commands: {"command":"threshold","ok":true,"text":"…"}
//	P/error          JSON answers to commands refused: {"command":"threshold","ok":false,"error":"…"}
//
// A command message on P/set/COMMAND is the serial console's line
// "COMMAND PAYLOAD" (Line), parsed by serialctl.ParseCommand and run by
// serialctl.Execute, with the console's limits: lines of at most 256
// bytes of printable ASCII, 5 a second after a burst of 10 (one "rate
// limited" answer per flood). Retained command messages are refused, so
// that a stale command never runs again on a reconnection.
//
// # The broker going away
//
// Nothing the daemon calls blocks: states (Set) keep only their latest
// value and are all published again on each connection; events and replies
// wait in a bounded queue (Options.Queue), beyond which they are dropped
// and counted (Dropped). Run reconnects with exponential backoff and
// publishes availability, discovery and every state on each connection.
package mqtt
