// Preloaded by bun test (bunfig.toml): every test runs in UTC.
process.env.TZ = "UTC";
