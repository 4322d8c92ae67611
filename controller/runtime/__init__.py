"""The controller runtime: informers, work queues, rate limits, leader election, health."""
