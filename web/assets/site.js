/* The careers site's enhancements, built on talent.js (TalentNetwork): the pages come rendered
 * by the server and work without this script. Each page names itself in <body data-page="...">.
 * Text from the API is only ever set as textContent. */
(function () {
  "use strict";
  var TN = window.TalentNetwork;
  var RECENTLY_VIEWED_ROWS = 6; // the rows site.css keeps room for (.job-rows)

  function byId(id) { return document.getElementById(id); }

  function setText(id, text) { byId(id).textContent = text; }

  function home() {
    // Featured jobs come rendered with the page; the recently viewed rows have their space kept.
    TN.renderRecentlyViewed(byId("recently-viewed"), { limit: RECENTLY_VIEWED_ROWS });
    TN.mountSignupForm(byId("signup-form"));
  }

  // An open job's page (rendered by the server) names its job: opening it is a view.
  function job() {
    var article = document.querySelector("article[data-job-id]");
    if (article) TN.viewed(article.dataset.jobId);
  }

  function preferences() {
    var token = new URLSearchParams(location.search).get("token") || "";
    var form = byId("preferences-form");
    var status = byId("preferences-status");
    var query = "?token=" + encodeURIComponent(token);
    var candidateId = null;

    function report(text, isError) {
      status.className = "tn-message" + (isError ? " tn-error" : "");
      status.textContent = text;
    }

    TN.request("GET", "/v1/preferences" + query).then(function (current) {
      candidateId = current.candidate_id;
      setText("preferences-intro", "Choose which jobs we email you about, and how often.");
      setText("masked-email", current.email);
      byId("interests").value = current.interests.join(", ");
      byId("locations").value = current.locations.join(", ");
      byId("keywords").value = current.keywords.join(", ");
      byId("alert_frequency").value = current.alert_frequency;
      byId("unsubscribed-note").hidden = current.subscribed;
      form.classList.remove("is-loading");
    }, function (error) {
      form.hidden = true;
      var invalid = error instanceof TN.ApiError && error.status < 500;
      setText("preferences-intro", invalid
        ? "This link is not valid. Use the link in a recent Talent Network email."
        : TN.describeError(error));
      byId("preferences-intro").classList.add("tn-error");
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = new FormData(form);
      var changed = {
        interests: TN.terms(data.get("interests")),
        locations: TN.terms(data.get("locations")),
        keywords: TN.terms(data.get("keywords")),
        alert_frequency: data.get("alert_frequency"),
      };
      report("Saving…");
      TN.request("PUT", "/v1/candidates/" + encodeURIComponent(candidateId) + "/preferences" + query, changed)
        .then(function () { report("Your preferences are saved."); },
              function (error) { report(TN.describeError(error), true); });
    });

    byId("unsubscribe").addEventListener("click", function () {
      report("Unsubscribing…");
      TN.request("POST", "/v1/unsubscribe" + query).then(function () {
        byId("unsubscribed-note").hidden = false;
        report("You are unsubscribed. You will get no more job alerts or digests.");
      }, function (error) { report(TN.describeError(error), true); });
    });
  }

  var pages = { home: home, job: job, preferences: preferences };
  var enhance = pages[document.body.dataset.page];
  if (enhance) enhance();
})();
