/* The careers site's pages, built on talent.js (TalentNetwork). Each page names itself in
 * <body data-page="...">. Text from the API is only ever set as textContent. */
(function () {
  "use strict";
  var TN = window.TalentNetwork;
  var PAGE_SIZE = 20;

  function byId(id) { return document.getElementById(id); }

  function setText(id, text) { byId(id).textContent = text; }

  function home() {
    TN.renderFeaturedJobs(byId("featured-jobs"));
    TN.renderRecentlyViewed(byId("recently-viewed"));
    TN.mountSignupForm(byId("signup-form"));
  }

  function jobs() {
    var params = new URLSearchParams(location.search);
    ["q", "category", "location"].forEach(function (name) {
      if (params.get(name)) byId(name).value = params.get(name);
    });
    var query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    ["q", "category", "location", "cursor"].forEach(function (name) {
      if (params.get(name)) query.set(name, params.get(name));
    });
    var results = byId("results");
    TN.request("GET", "/v1/jobs?" + query).then(function (page) {
      results.setAttribute("aria-busy", "false");
      if (!page.items.length) {
        results.replaceChildren(message("No open jobs match your search."));
        return;
      }
      var list = document.createElement("ul");
      list.className = "tn-jobs";
      page.items.forEach(function (job) { list.appendChild(jobItem(job)); });
      results.replaceChildren(list);
      if (page.next_cursor) {
        params.set("cursor", page.next_cursor);
        var next = byId("next-page");
        next.href = "/jobs?" + params;
        next.hidden = false;
      }
    }, function (error) {
      results.setAttribute("aria-busy", "false");
      results.replaceChildren(message(TN.describeError(error), "tn-error"));
    });
  }

  function message(text, kind) {
    var paragraph = document.createElement("p");
    paragraph.className = "tn-message" + (kind ? " " + kind : "");
    paragraph.textContent = text;
    return paragraph;
  }

  function jobItem(job) {
    var item = document.createElement("li");
    item.className = "tn-job";
    item.dataset.jobId = job.job_id;
    var link = document.createElement("a");
    link.className = "tn-job-title";
    link.href = "/jobs/" + encodeURIComponent(job.job_id);
    link.textContent = job.title;
    var meta = document.createElement("span");
    meta.className = "tn-job-meta";
    meta.textContent = [job.category, job.location, job.employment_type].filter(Boolean).join(" · ");
    item.append(link, meta);
    return item;
  }

  function job() {
    var jobId = decodeURIComponent(location.pathname.split("/").pop());
    var article = byId("job");
    TN.request("GET", "/v1/jobs/" + encodeURIComponent(jobId)).then(function (found) {
      document.title = found.title + " · Careers";
      setText("job-title", found.title);
      setText("job-meta", [found.category, found.location, found.employment_type].filter(Boolean).join(" · "));
      setText("job-description", found.description);
      byId("job-status").hidden = found.status !== "closed";
      article.setAttribute("aria-busy", "false");
      TN.viewed(found.job_id);
    }, function (error) {
      article.setAttribute("aria-busy", "false");
      var missing = error instanceof TN.ApiError && (error.status === 404 || error.status === 422);
      setText("job-title", missing ? "Job not found" : "This job cannot be shown right now");
      setText("job-meta", missing ? "It may have been removed. Search our open jobs instead." : TN.describeError(error));
    });
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
      form.hidden = false;
    }, function (error) {
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

  var pages = { home: home, jobs: jobs, job: job, preferences: preferences };
  pages[document.body.dataset.page]();
})();
