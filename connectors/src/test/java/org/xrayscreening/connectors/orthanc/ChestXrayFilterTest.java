package org.xrayscreening.connectors.orthanc;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.xrayscreening.connectors.orthanc.ChestXrayFilter.SkipReason;

class ChestXrayFilterTest {

    static Map<String, String> tags(String modality, String bodyPart, String view) {
        Map<String, String> t = new HashMap<>(Map.of("Rows", "2048", "Columns", "2500"));
        if (modality != null) {
            t.put("Modality", modality);
        }
        if (bodyPart != null) {
            t.put("BodyPartExamined", bodyPart);
        }
        if (view != null) {
            t.put("ViewPosition", view);
        }
        return t;
    }

    @Test
    void frontalChestRadiographsPass() {
        assertThat(ChestXrayFilter.skipReason(tags("DX", "CHEST", "PA"))).isEmpty();
        assertThat(ChestXrayFilter.skipReason(tags("CR", "chest ", "AP"))).isEmpty();
        assertThat(ChestXrayFilter.skipReason(tags("DR", "CHEST", null))).isEmpty();
        assertThat(ChestXrayFilter.skipReason(tags("DX", "CHEST", ""))).isEmpty();
    }

    @Test
    void everythingElseIsSkippedWithItsReason() {
        assertThat(ChestXrayFilter.skipReason(tags("CT", "CHEST", "PA"))).contains(SkipReason.MODALITY);
        assertThat(ChestXrayFilter.skipReason(tags("SR", null, null))).contains(SkipReason.MODALITY);
        assertThat(ChestXrayFilter.skipReason(tags(null, "CHEST", "PA"))).contains(SkipReason.MODALITY);
        assertThat(ChestXrayFilter.skipReason(tags("DX", "HAND", "PA"))).contains(SkipReason.BODY_PART);
        assertThat(ChestXrayFilter.skipReason(tags("DX", null, "PA"))).contains(SkipReason.BODY_PART);
        assertThat(ChestXrayFilter.skipReason(tags("DX", "CHEST", "LL"))).contains(SkipReason.VIEW);
        assertThat(ChestXrayFilter.skipReason(tags("CR", "CHEST", "lateral"))).contains(SkipReason.VIEW);
        Map<String, String> noPixels = tags("DX", "CHEST", "PA");
        noPixels.remove("Rows");
        assertThat(ChestXrayFilter.skipReason(noPixels)).isEqualTo(Optional.of(SkipReason.NO_PIXELS));
        assertThat(SkipReason.BODY_PART.label()).isEqualTo("body_part");
    }
}
