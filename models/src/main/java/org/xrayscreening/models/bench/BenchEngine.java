package org.xrayscreening.models.bench;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;

/** Starts the PyTorch engine the way every benchmark here measures it: fixed intra-op threads, one inter-op thread. */
final class BenchEngine {
    private BenchEngine() {}

    /** Must run before anything else touches the engine: DJL reads the thread properties on first start. */
    static Engine start(int threads) {
        System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(threads));
        System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
        Engine engine = Engine.getEngine("PyTorch");
        JniUtils.setNumThreads(threads);
        return engine;
    }
}
