// Package ops holds what operators wrap around a run of mybak: a job lock
// so that overlapping cron runs do not collide, and Prometheus text-format
// metrics for node_exporter's textfile collector.
package ops
