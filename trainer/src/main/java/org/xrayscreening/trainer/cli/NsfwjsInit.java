package org.xrayscreening.trainer.cli;

import ai.djl.Model;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import org.xrayscreening.trainer.dataset.PreparedImages;
import org.xrayscreening.trainer.imagenet.NsfwjsInceptionImporter;
import org.xrayscreening.trainer.imagenet.NsfwjsPackage;
import org.xrayscreening.trainer.training.TrainOptions;
import org.xrayscreening.trainer.training.TrainingRun;

/**
 * {@code --init nsfwjs} (fetched into the cache, {@link NsfwjsPackage#fetch}) or {@code --init nsfwjs:<path>}
 * (a tarball, unpacked package or model folder): fills InceptionV3's 94 conv+BN units from nsfwjs' Keras
 * InceptionV3 before the first epoch; the 2-class head stays random. The run's input normalization is then x/255
 * ({@link TrainOptions#normalization()}), as the weights expect.
 */
final class NsfwjsInit implements TrainingRun.ModelInitializer {
    static final NsfwjsInit INSTANCE = new NsfwjsInit();

    /** Every --init scheme, each acting only on its own ({@code imagenet:}, {@code nsfwjs}). */
    static final TrainingRun.ModelInitializer ALL = (model, options, train, out) -> {
        ImagenetInit.INSTANCE.initialize(model, options, train, out);
        INSTANCE.initialize(model, options, train, out);
    };

    @Override
    public void initialize(Model model, TrainOptions options, PreparedImages train, PrintStream out) throws IOException {
        if (!options.nsfwjsInit()) {
            return;
        }
        Path source = source(options.init(), out);
        var summary = NsfwjsInceptionImporter.initialize(model, source, options.inputSize());
        out.println("initialized from " + summary.weights() + "; 2-class head random; input normalization "
                + options.normalization());
    }

    /** The model file named by {@code nsfwjs} / {@code nsfwjs:<path>}, fetching into the cache if needed. */
    static Path source(String init, PrintStream out) throws IOException {
        if (init.equals(TrainOptions.NSFWJS)) {
            return NsfwjsPackage.fetch(out);
        }
        return NsfwjsPackage.locate(Path.of(init.substring(TrainOptions.NSFWJS.length() + 1)));
    }
}
