"""Run a chain of Brian2 LIF groups as a Brian2 user writes it (default schedule) and save its spikes.

Run with an interpreter that has Brian2 (2.9 needs numpy < 2.4, so not neurosim's):

    python brian2_chain.py NET.npz OUT.npz

NET.npz: ``inputs`` [T, n_in] (0/1), ``dt_s``, ``n_layers`` and per layer k = 1..: ``w{k}`` [n, n_pre],
optional ``rec{k}`` [n, n], ``tau{k}``, ``thr{k}``, ``reset{k}`` ('zero' or 'subtract'), ``vr{k}``,
``vrest{k}``, ``method{k}``. OUT.npz: ``spikes{k}`` [T, n] per layer. Nothing here imports neurosim.
"""

import sys

import numpy as np


def main(argv):
    import brian2 as b2

    net = np.load(argv[1])
    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    dt = float(net["dt_s"]) * b2.second
    b2.defaultclock.dt = dt
    inputs = net["inputs"]
    steps, n_in = inputs.shape
    src_t, src_i = np.nonzero(inputs)
    pre = b2.SpikeGeneratorGroup(n_in, src_i, src_t * dt)
    objects, monitors = [pre], []
    for k in range(1, int(net["n_layers"]) + 1):
        wmat = net[f"w{k}"]
        reset = "v = v_reset" if str(net[f"reset{k}"]) == "zero" else "v -= v_threshold"
        g = b2.NeuronGroup(wmat.shape[0], "dv/dt = (v_rest - v) / tau : 1", threshold="v > v_threshold", reset=reset,
                           method=str(net[f"method{k}"]),
                           namespace={"tau": float(net[f"tau{k}"]) * b2.second, "v_threshold": float(net[f"thr{k}"]),
                                      "v_reset": float(net[f"vr{k}"]), "v_rest": float(net[f"vrest{k}"])})
        j, i = np.nonzero(wmat)
        s = b2.Synapses(pre, g, "w : 1", on_pre="v += w")
        s.connect(i=i, j=j)
        s.w = wmat[j, i]
        objects += [g, s]
        if f"rec{k}" in net:
            wr = net[f"rec{k}"]
            jr, ir_ = np.nonzero(wr)
            sr = b2.Synapses(g, g, "w : 1", on_pre="v += w")
            sr.connect(i=ir_, j=jr)
            sr.w = wr[jr, ir_]
            objects.append(sr)
        mon = b2.SpikeMonitor(g)
        monitors.append(mon)
        objects.append(mon)
        pre = g
    network = b2.Network(*objects)
    network.run(steps * dt)
    out = {}
    for k, mon in enumerate(monitors, start=1):
        raster = np.zeros((steps, len(mon.source)), dtype=np.int64)
        t_idx = np.rint(np.asarray(mon.t / dt)).astype(np.int64)
        np.add.at(raster, (t_idx, np.asarray(mon.i)), 1)
        out[f"spikes{k}"] = raster
    np.savez(argv[2], **out)


if __name__ == "__main__":
    main(sys.argv)
