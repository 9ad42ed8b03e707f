/*
 * talent.js: the Talent Network's embeddable script, for this site and any careers site.
 *
 *   <script src="https://careers.example.org/talent.js"></script>
 *   TalentNetwork.viewed(jobId);                                  // on a job's page
 *   TalentNetwork.renderRecentlyViewed(document.getElementById("recent"));
 *
 * The API is the origin this script was loaded from (override: TalentNetwork.configure({apiBase})).
 * Another origin must be listed in the services' CORS_ALLOWED_ORIGINS. No third-party code.
 */
(function (global) {
  "use strict";

  var VISITOR_KEY = "talent.visitor_id";
  var BATCH_SIZE = 50; // a full batch is sent at once; smaller ones wait until the page is hidden
  var EMPTY_RECENTLY_VIEWED = "You don't have recently viewed jobs yet";

  var currentScript = document.currentScript;
  var config = {
    apiBase: currentScript && currentScript.src ? new URL(currentScript.src).origin : location.origin,
    jobUrl: null, // function (jobId) -> the link of a job on the embedding site
  };
  var pendingViews = [];
  var memoryVisitorId = null;
  var lastViewTime = 0;

  function configure(options) {
    Object.keys(options || {}).forEach(function (key) { config[key] = options[key]; });
  }

  function newVisitorId() {
    var bytes = new Uint8Array(16);
    global.crypto.getRandomValues(bytes);
    return "v-" + Array.prototype.map.call(bytes, function (b) {
      return (b < 16 ? "0" : "") + b.toString(16);
    }).join("");
  }

  // A first-party id kept in localStorage; when storage is blocked (privacy settings, sandboxed
  // frames) it lives as long as the page, so views and widgets still work for this visit.
  function visitorId() {
    try {
      var stored = global.localStorage.getItem(VISITOR_KEY);
      if (stored) return stored;
      var created = newVisitorId();
      global.localStorage.setItem(VISITOR_KEY, created);
      return created;
    } catch (blocked) {
      memoryVisitorId = memoryVisitorId || newVisitorId();
      return memoryVisitorId;
    }
  }

  function apiUrl(path) {
    return config.apiBase.replace(/\/$/, "") + path;
  }

  function jobUrl(jobId) {
    return config.jobUrl ? config.jobUrl(jobId) : apiUrl("/jobs/" + encodeURIComponent(jobId));
  }

  function ApiError(status, detail) {
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    this.message = typeof detail === "string" ? detail : "request failed (" + status + ")";
  }
  ApiError.prototype = Object.create(Error.prototype);

  // JSON in, JSON out; a non-2xx answer throws ApiError with the API's detail.
  function request(method, path, body) {
    var options = { method: method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return global.fetch(apiUrl(path), options).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (notJson) { data = null; }
        if (!response.ok) throw new ApiError(response.status, data && data.detail);
        return data;
      });
    });
  }

  // --- job views: batched, sent when the page is hidden -------------------------------------

  // Views of one page keep their order even within a millisecond: each is 1 ms after the last.
  function viewTime() {
    lastViewTime = Math.max(Date.now(), lastViewTime + 1);
    return new Date(lastViewTime).toISOString();
  }

  function viewed(jobId) {
    pendingViews.push({ visitor_id: visitorId(), job_id: String(jobId), viewed_at: viewTime() });
    if (pendingViews.length >= BATCH_SIZE) flush();
  }

  // Sends the pending views now; resolves to the API's {accepted, rejected}. Views that could
  // not be delivered (network, 5xx) go back in the queue for the next flush.
  function flush() {
    if (!pendingViews.length) return Promise.resolve({ accepted: 0, rejected: [] });
    var events = pendingViews.splice(0);
    return request("POST", "/v1/job-views/batch", { events: events }).catch(function (error) {
      if (!(error instanceof ApiError) || error.status >= 500) pendingViews = events.concat(pendingViews);
      throw error;
    });
  }

  // On the way out: sendBeacon survives the page; text/plain needs no CORS preflight.
  function flushOnHide() {
    if (!pendingViews.length) return;
    var url = apiUrl("/v1/job-views/batch");
    var body = JSON.stringify({ events: pendingViews.splice(0) });
    if (navigator.sendBeacon && navigator.sendBeacon(url, body)) return;
    global.fetch(url, {
      method: "POST", body: body, keepalive: true,
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
    }).catch(function () { /* the page is going away: nothing left to tell */ });
  }

  global.addEventListener("pagehide", flushOnHide);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") flushOnHide();
  });

  // --- widgets -------------------------------------------------------------------------------

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function jobList(jobs, describe) {
    var list = element("ul", { class: "tn-jobs" });
    jobs.forEach(function (job) {
      var item = element("li", { class: "tn-job", "data-job-id": job.job_id });
      item.appendChild(element("a", { href: jobUrl(job.job_id), class: "tn-job-title" }, job.title));
      item.appendChild(element("span", { class: "tn-job-meta" }, describe(job)));
      list.appendChild(item);
    });
    return list;
  }

  function where(job) {
    return [job.category, job.location].filter(Boolean).join(" · ");
  }

  function show(container, content) {
    container.replaceChildren(content);
    container.setAttribute("aria-busy", "false");
    return content;
  }

  function showMessage(container, text, kind) {
    return show(container, element("p", { class: "tn-message" + (kind ? " tn-" + kind : "") }, text));
  }

  function renderFeaturedJobs(container, options) {
    var limit = (options && options.limit) || 6;
    container.setAttribute("aria-busy", "true");
    return request("GET", "/v1/jobs?featured=true&limit=" + limit).then(function (page) {
      if (!page.items.length) return showMessage(container, "No featured jobs right now.");
      return show(container, jobList(page.items, where));
    }, function () {
      showMessage(container, "Featured jobs are unavailable right now.", "error");
    });
  }

  function renderRecentlyViewed(container, options) {
    var limit = (options && options.limit) || 10;
    var path = "/v1/visitors/" + encodeURIComponent(visitorId()) + "/recently-viewed?limit=" + limit;
    container.setAttribute("aria-busy", "true");
    return request("GET", path).then(function (recent) {
      if (!recent.items.length) return showMessage(container, EMPTY_RECENTLY_VIEWED);
      return show(container, jobList(recent.items, where));
    }, function () {
      showMessage(container, "Recently viewed jobs are unavailable right now.", "error");
    });
  }

  function terms(value) {
    return String(value || "").split(",").map(function (term) { return term.trim(); }).filter(Boolean);
  }

  // 422 details name fields ({loc: ["body", "email"], msg}); anything else is one message.
  function describeError(error) {
    if (!(error instanceof ApiError)) return "We could not reach the Talent Network. Please try again.";
    if (error.status === 429) return "Too many sign-ups from here. Please try again later.";
    if (Array.isArray(error.detail)) {
      return error.detail.map(function (problem) {
        var field = (problem.loc || []).slice(1).join(".") || "request";
        return field.replace(/_/g, " ") + ": " + problem.msg;
      }).join("; ");
    }
    return error.message;
  }

  var SIGNED_UP = "You're in! Check your inbox for a welcome email.";
  // A new address with double opt-in, or an address that is already a member: nothing changes
  // until the email's link is followed.
  var TO_CONFIRM = "Check your inbox: we sent you an email to confirm.";

  // "Value error, holds a link" -> "Holds a link": pydantic's prefix says nothing to a visitor.
  function fieldMessage(problem) {
    var text = String(problem.msg || "is not valid").replace(/^Value error, /, "");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function clearFieldErrors(form) {
    Array.prototype.forEach.call(form.querySelectorAll(".tn-field-error"), function (shown) {
      var control = form.querySelector("[aria-describedby~='" + shown.id + "']");
      if (control) {
        control.removeAttribute("aria-invalid");
        var rest = control.getAttribute("aria-describedby").split(" ").filter(function (id) {
          return id && id !== shown.id;
        });
        if (rest.length) control.setAttribute("aria-describedby", rest.join(" "));
        else control.removeAttribute("aria-describedby");
      }
      shown.remove();
    });
  }

  // Shows each 422 problem next to the control it names ({loc: ["body", "first_name"], msg}),
  // tied to it with aria-describedby; returns how many it placed, the first control focused.
  function showFieldErrors(form, problems) {
    var placed = 0;
    problems.forEach(function (problem) {
      var name = (problem.loc || [])[1];
      var control = name && form.elements.namedItem(String(name));
      if (!control || !control.setAttribute || control.getAttribute("aria-invalid")) return;
      var id = (form.id || "tn-form") + "-" + name + "-error";
      var shown = element("p", { class: "tn-field-error", id: id }, fieldMessage(problem));
      (control.closest(".field") || control.parentNode).appendChild(shown);
      control.setAttribute("aria-invalid", "true");
      var describedBy = control.getAttribute("aria-describedby");
      control.setAttribute("aria-describedby", describedBy ? describedBy + " " + id : id);
      if (!placed) control.focus();
      placed += 1;
    });
    return placed;
  }

  function signupFrom(form) {
    var data = new FormData(form);
    return {
      email: data.get("email"),
      first_name: data.get("first_name"),
      last_name: data.get("last_name"),
      interests: terms(data.get("interests")),
      locations: terms(data.get("locations")),
      keywords: terms(data.get("keywords")),
      alert_frequency: data.get("alert_frequency") || "instant",
      consent: data.get("consent") === "on",
      visitor_id: visitorId(),
    };
  }

  // Posts the sign-up form (fields named as the API's: email, first_name, ..., consent).
  function mountSignupForm(form, options) {
    var status = form.querySelector("[role=status]") || form.appendChild(element("p", { role: "status" }));
    function report(text, isError) {
      status.className = "tn-message" + (isError ? " tn-error" : "");
      status.textContent = text;
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("[type=submit]");
      if (button) button.disabled = true;
      clearFieldErrors(form);
      report("Signing you up…");
      request("POST", "/v1/signups", signupFrom(form)).then(function (result) {
        report(result.status === "pending" ? TO_CONFIRM : SIGNED_UP);
        form.reset();
        if (options && options.onSignup) options.onSignup(result);
      }, function (error) {
        var problems = error instanceof ApiError && error.status === 422 && Array.isArray(error.detail)
          ? error.detail : [];
        var placed = showFieldErrors(form, problems);
        report(placed === problems.length && placed
          ? "Please correct the " + (placed === 1 ? "field" : "fields") + " marked above."
          : describeError(error), true);
      }).finally(function () {
        if (button) button.disabled = false;
      });
    });
  }

  global.TalentNetwork = {
    configure: configure,
    visitorId: visitorId,
    viewed: viewed,
    flush: flush,
    request: request,
    describeError: describeError,
    terms: terms,
    jobUrl: jobUrl,
    renderFeaturedJobs: renderFeaturedJobs,
    renderRecentlyViewed: renderRecentlyViewed,
    mountSignupForm: mountSignupForm,
    ApiError: ApiError,
  };
})(window);
