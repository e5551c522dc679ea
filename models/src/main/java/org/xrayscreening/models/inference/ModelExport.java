package org.xrayscreening.models.inference;

import ai.djl.Model;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.network.Networks;

/**
 * The one place that fixes how weights are stored in a model version, so the trainer's writer and
 * {@link CovidClassifier}'s reader cannot drift apart.
 *
 * <p>Convention: a version holds exactly one DJL parameter file, {@value #WEIGHTS_FILE} (prefix
 * {@value #WEIGHTS_PREFIX}, epoch 0, whatever epoch the trainer was at), for the block
 * {@code Networks.classifier(architecture, 2)}; class 0 is COVID-19.
 */
public final class ModelExport {
    /** DJL model-name prefix passed to {@code Model.save}/{@code Model.load}. */
    public static final String WEIGHTS_PREFIX = "model";
    /** The parameter file name inside a version directory. */
    public static final String WEIGHTS_FILE = WEIGHTS_PREFIX + "-0000.params";
    /** COVID-19 and non-COVID-19. */
    public static final int NUM_CLASSES = 2;

    private ModelExport() {}

    /** A model with the classifier block for {@code architecture}, randomly initialized. */
    public static Model newModel(Architecture architecture, int inputSize) {
        return newModel(architecture, inputSize, org.xrayscreening.models.network.KerasBackbone.KERAS_BN_MOMENTUM);
    }

    /** As {@link #newModel(Architecture, int)} with another batch-norm momentum, for short training runs. */
    public static Model newModel(Architecture architecture, int inputSize, float batchNormMomentum) {
        Model model = Model.newInstance(WEIGHTS_PREFIX);
        try {
            Block block = Networks.classifier(architecture, NUM_CLASSES, batchNormMomentum);
            model.setBlock(block);
            block.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 3, inputSize, inputSize));
            return model;
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /**
     * Writes the model's parameters to {@code stagingDir}/{@value #WEIGHTS_FILE}, ready for
     * {@code ModelRegistry.publish}. DJL names the file after the model's "Epoch" property, so it is
     * saved aside and renamed to the fixed name.
     *
     * @return the weights file
     */
    public static Path save(Model model, Path stagingDir) throws IOException {
        Files.createDirectories(stagingDir);
        Path target = stagingDir.resolve(WEIGHTS_FILE);
        if (Files.exists(target)) {
            throw new IllegalStateException("staging directory already holds " + WEIGHTS_FILE + ": " + stagingDir);
        }
        Path scratch = Files.createTempDirectory(stagingDir.getParent() != null ? stagingDir.getParent() : stagingDir,
                ".djl-save-");
        try {
            model.save(scratch, WEIGHTS_PREFIX);
            List<Path> written;
            try (Stream<Path> files = Files.list(scratch)) {
                written = files.filter(p -> p.getFileName().toString().endsWith(".params")).toList();
            }
            if (written.size() != 1) {
                throw new IOException("expected DJL to write one .params file, found " + written);
            }
            Files.move(written.get(0), target, StandardCopyOption.ATOMIC_MOVE);
            return target;
        } finally {
            try (Stream<Path> walk = Files.walk(scratch)) {
                for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }
}
