package org.xrayscreening.trainer.cli;

import ai.djl.Model;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.xrayscreening.trainer.dataset.PreparedImages;
import org.xrayscreening.trainer.imagenet.TfliteMobileNetImporter;
import org.xrayscreening.trainer.training.TrainOptions;
import org.xrayscreening.trainer.training.TrainingRun;

/**
 * {@code --init imagenet:<tflite>}: fills MobileNet's backbone from a TFLite file before the first epoch
 * ({@link TfliteMobileNetImporter#initializeFromImageNet}), then calibrates its batch norms on
 * {@value #CALIBRATION_IMAGES} training images (picked with the run's seed) so that training mode starts
 * from the imported function. The 2-class head stays randomly initialized.
 */
final class ImagenetInit implements TrainingRun.ModelInitializer {
    static final ImagenetInit INSTANCE = new ImagenetInit();
    static final int CALIBRATION_IMAGES = 64;

    @Override
    public void initialize(Model model, TrainOptions options, PreparedImages train, PrintStream out) throws IOException {
        if (!options.imagenetInit()) {
            return;
        }
        Path tflite = Path.of(options.init().substring("imagenet:".length()));
        List<Integer> idx = new ArrayList<>();
        for (int i = 0; i < train.size(); i++) {
            idx.add(i);
        }
        java.util.Collections.shuffle(idx, new Random(options.seed()));
        List<float[]> batch = new ArrayList<>();
        for (int i = 0; i < Math.min(CALIBRATION_IMAGES, idx.size()); i++) {
            batch.add(train.input(idx.get(i)));
        }
        var summary = TfliteMobileNetImporter.initializeFromImageNet(model, tflite, options.inputSize(), batch);
        out.println("initialized from ImageNet: " + summary + "; batch norms calibrated on " + batch.size()
                + " training images");
    }
}
