package org.xrayscreening.worklist;

import java.time.Instant;
import java.util.List;
import org.xrayscreening.connectors.event.ModelScore;

/** The list's rows as the page's polling gets them (JSON, via Jackson) and as the first render shows them. */
final class Json {
    private Json() {}

    record Model(String model, String version, double probability) {
    }

    /** One flagged study; no patient reference, the link is the opaque study key. */
    record Row(String key, String studyId, String decision, Double ensembleProbability, List<Model> models,
               List<String> missingModels, Instant acquiredAt, Instant flaggedAt, boolean reviewed,
               String reviewLabel, String reviewSource, String reviewer, boolean heatmap) {

        String html() {
            StringBuilder m = new StringBuilder();
            for (Model model : models) {
                m.append("<span class=\"model\">").append(Pages.esc(model.model())).append(' ')
                        .append(Pages.fmt(model.probability())).append(" <small>").append(Pages.esc(model.version()))
                        .append("</small></span> ");
            }
            return "<tr data-key=\"" + Pages.esc(key) + "\" class=\"" + (reviewed ? "reviewed" : "open") + "\">"
                    + "<td><time datetime=\"" + flaggedAt + "\">" + flaggedAt + "</time></td>"
                    + "<td><a href=\"/studies/" + Pages.esc(key) + "\">" + Pages.esc(studyId) + "</a></td>"
                    + "<td class=\"decision\">" + Pages.esc(decision) + "</td>"
                    + "<td class=\"num\">" + Pages.fmt(ensembleProbability) + "</td>"
                    + "<td>" + m + "</td>"
                    + "<td class=\"since\" data-acquired=\"" + (acquiredAt == null ? "" : acquiredAt) + "\"></td>"
                    + "<td class=\"reviewed-cell\">" + (reviewed ? "reviewed: " + Pages.esc(reviewLabel) : "open") + "</td></tr>";
        }
    }

    record Listing(long version, boolean caughtUp, List<Row> studies) {
    }

    static Row row(WorklistState.Study s) {
        List<Model> models = s.recommendation() == null ? List.of()
                : s.recommendation().modelScores().stream().map(Json::model).toList();
        return new Row(s.key(), s.studyId(), s.alert().decision().name(),
                s.recommendation() != null ? Double.valueOf(s.recommendation().ensembleProbability()) : s.alert().probability(),
                models, s.recommendation() == null ? List.of() : s.recommendation().missingModels(), s.acquiredAt(),
                s.flaggedAt(), s.reviewed(), s.reviewed() ? s.review().label() : null,
                s.reviewed() ? s.review().labelSource() : null, s.reviewed() ? s.review().reviewer() : null,
                s.alert().heatmapUri() != null);
    }

    private static Model model(ModelScore m) {
        return new Model(m.model(), m.version(), m.probability());
    }
}
