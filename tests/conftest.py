import os

# Tests run on the CPU; a lent GPU machine is never assumed. Eight host devices
# let the sharding tests run on one machine (jax reads this at first import).
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
