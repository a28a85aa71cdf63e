"""Run the engine benchmark's network in Brian2 (used by ``neurosim bench engine --brian2-python``).

Brian2 2.9 (the newest for Python 3.11) does not import with numpy >= 2.4, which neurosim's
environment has; so the benchmark runs this script with another interpreter that has Brian2 and
numpy 2.3, on the identical network and input spikes, and reads back times and spike counts:

    python brian2_runner.py NETWORK.npz OUT.json [TARGET ...]

TARGET is ``numpy``, ``cython`` (runtime code generation) or ``cpp_standalone`` (Brian2 writes a
C++ project, compiles it with g++ and runs the binary; one thread, Brian2's default). For
``cpp_standalone`` the build (code generation + g++) is timed apart (``build_s``) from the run:
``seconds`` is the simulation loop as the binary measures it itself (Brian2's ``last_run_info``),
``binary_s`` the binary's whole run (loading arrays, writing results). It runs after the runtime
targets, because ``set_device`` switches the whole process.

Per step the model does what the engine does: ``v = decay * v + I`` with ``I`` this step's
synaptic input (input spikes of this step, recurrent spikes of the previous step), threshold
``v > 1``, reset ``v -= 1``. The weights are multiples of 2**-10, so ``I`` is exact in any order.
"""

import json
import sys
import time

import numpy as np


def main(argv):
    net = np.load(argv[1])
    out_path = argv[2]
    targets = argv[3:] or ["numpy", "cython"]
    targets = sorted(targets, key=lambda t: t == "cpp_standalone")  # the device switch goes last
    import brian2 as b2

    steps, n, n_in = int(net["steps"]), int(net["n"]), int(net["n_in"])
    results = {"brian2_version": b2.__version__}
    for target in targets:
        t_start = time.perf_counter()
        standalone = target == "cpp_standalone"
        if standalone:
            import tempfile

            build_dir = tempfile.mkdtemp(prefix="neurosim_brian2_")
            b2.set_device("cpp_standalone", directory=build_dir, build_on_run=False)
        else:
            b2.prefs.codegen.target = target
        b2.start_scope()
        b2.defaultclock.dt = 1 * b2.ms
        src_t, src_i = np.nonzero(net["inputs"])
        inp = b2.SpikeGeneratorGroup(n_in, src_i, src_t * b2.ms)
        # synaptic input is summed in I (exact: the weights are multiples of 2**-10), then
        # v = decay * v + I in one rounding, exactly as the engine and the bare loop compute it
        g = b2.NeuronGroup(n, "v : 1\nI : 1", threshold="v > 1", reset="v -= 1", method="exact")
        g.run_regularly(f"v = {float(net['decay'])!r} * v + I\nI = 0", when="after_synapses", order=0)
        g.thresholder["spike"].when = "after_synapses"
        g.thresholder["spike"].order = 1
        g.resetter["spike"].when = "after_synapses"
        g.resetter["spike"].order = 2
        # the threshold runs after the synapses slot, so Brian2 pushes a step's spikes in the next
        # step's synapses slot: with no synaptic delay they arrive exactly one step late, as in the engine
        s_rec = b2.Synapses(g, g, "w : 1", on_pre="I += w")
        s_rec.connect(i=net["rec_src"], j=net["rec_idx"])
        s_rec.w = net["rec_w"]
        s_in = b2.Synapses(inp, g, "w : 1", on_pre="I += w")
        s_in.connect(i=net["in_src"], j=net["in_idx"])
        s_in.w = net["in_w"]
        mon = b2.SpikeMonitor(g)
        setup = time.perf_counter() - t_start
        t0 = time.perf_counter()
        b2.run(steps * b2.ms)
        run_s = time.perf_counter() - t0
        row = {"seconds": run_s, "setup_s": setup}
        if standalone:
            t0 = time.perf_counter()
            b2.device.build(directory=build_dir, compile=True, run=False, with_output=False)
            row["build_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            b2.device.run(directory=build_dir, with_output=False)
            row["binary_s"] = time.perf_counter() - t0
            row["seconds"] = float(b2.device._last_run_time)
            row["setup_s"] = setup + run_s  # network description + code generation of run()
        row.update(spikes=int(mon.num_spikes), end_to_end_s=time.perf_counter() - t_start)
        if standalone:
            import shutil

            shutil.rmtree(build_dir, ignore_errors=True)  # after the monitor read its results from it
        results[target] = row
        run_s = row["seconds"]
        print(f"brian2 {target}: {run_s:.2f} s, {row['spikes']} spikes", flush=True)
    with open(out_path, "w") as fh:
        json.dump(results, fh)


if __name__ == "__main__":
    main(sys.argv)
