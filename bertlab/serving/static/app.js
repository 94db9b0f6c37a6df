// The page of `bertlab serve` (notebook 14): ask /health what the model does, show the form for
// that task, POST what the person typed, and draw the answer. Plain JavaScript, no library:
// every text from the model or the person goes into the page through textContent, never as HTML.
"use strict";

const PALETTE = ["#8dd3c7", "#fdb462", "#bebada", "#fb8072", "#80b1d3", "#b3de69", "#fccde5", "#d9d9d9"];
const FORMS = {
  "text-classification": { input: "Type a review", button: "Classify",
                            example: "A gripping, funny and deeply moving film." },
  "token-classification": { input: "Type a sentence", button: "Find entities",
                             example: "Ada Lovelace worked with Charles Babbage in London." },
  "question-answering": { input: "Question", context: "Context", button: "Answer",
                          example: "Who built the lighthouse?",
                          contextExample: "Robert Stevenson built the Bell Rock Lighthouse between 1807 and 1810." },
  "fill-mask": { input: "Type a sentence with [MASK] in it", button: "Fill in",
                 example: "The capital of France is [MASK]." },
  "sentence-embedding": { input: "First sentence", second: "Second sentence", button: "Compare",
                          example: "A man is playing a guitar.", secondExample: "Someone plays an instrument." },
};

const $ = (id) => document.getElementById(id);
let service = null;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

async function start() {
  try {
    const response = await fetch("/health");
    service = await response.json();
  } catch (error) {
    $("model").textContent = "the server does not answer: " + error;
    return;
  }
  const form = FORMS[service.task];
  $("model").textContent = `${service.task} · ${service.model} · ${service.backend} backend`;
  $("input-label").textContent = form.input;
  $("input").value = form.example;
  if (form.context) {
    for (const id of ["context", "context-label"]) $(id).hidden = false;
    $("context-label").textContent = form.context;
    $("context").value = form.contextExample;
  }
  if (form.second) {
    for (const id of ["second", "second-label"]) $(id).hidden = false;
    $("second-label").textContent = form.second;
    $("second").value = form.secondExample;
  }
  $("submit").textContent = form.button;
  $("form").hidden = false;
  $("form").addEventListener("submit", submit);
}

function requestBody() {
  if (service.task === "question-answering") {
    return { question: $("input").value, context: $("context").value };
  }
  if (service.task === "sentence-embedding") return { texts: [$("input").value, $("second").value] };
  return { texts: [$("input").value] };
}

async function submit(event) {
  event.preventDefault();
  $("error").hidden = true;
  $("result").replaceChildren();
  $("status").textContent = "asking the model…";
  const body = requestBody();
  const started = performance.now();
  let response, answer;
  try {
    response = await fetch(service.endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    answer = await response.json();
  } catch (error) {
    $("status").textContent = "";
    showError("no answer: " + error);
    return;
  }
  $("status").textContent = `answered in ${Math.round(performance.now() - started)} ms`;
  if (!response.ok) {
    showError(`${response.status}: ${answer.error || JSON.stringify(answer)}`);
    return;
  }
  DRAW[service.task](answer, body);
  $("result").dataset.done = "true";
}

const DRAW = {
  "text-classification"(answer) {
    const result = answer.results[0];
    const box = $("result");
    box.append(element("div", "label", result.label));
    box.lastChild.id = "label";
    for (const [name, probability] of Object.entries(result.probabilities || {})) {
      const row = element("div", "bar");
      const fill = element("span", "fill");
      fill.style.width = `${(100 * probability).toFixed(1)}%`;
      const track = element("span");
      track.append(fill);
      row.append(element("span", "", name), track, element("span", "", probability.toFixed(3)));
      box.append(row);
    }
  },

  "token-classification"(answer, body) {
    const text = body.texts[0];
    const entities = answer.results[0];
    const types = [...new Set(service.labels.map((l) => l.replace(/^[BI]-/, "")).filter((t) => t !== "O"))];
    const paragraph = element("p", "highlighted");
    let cursor = 0;
    for (const entity of entities) {
      paragraph.append(document.createTextNode(text.slice(cursor, entity.start)));
      const mark = element("mark", "entity", text.slice(entity.start, entity.end));
      mark.dataset.type = entity.entity_group;
      mark.title = `${entity.entity_group} (score ${entity.score.toFixed(3)})`;
      mark.style.background = PALETTE[Math.max(0, types.indexOf(entity.entity_group)) % PALETTE.length];
      mark.append(element("sup", "", entity.entity_group));
      paragraph.append(mark);
      cursor = entity.end;
    }
    paragraph.append(document.createTextNode(text.slice(cursor)));
    $("result").append(paragraph);
    if (entities.length === 0) $("result").append(element("p", "", "no entities found"));
  },

  "question-answering"(answer, body) {
    const box = $("result");
    if (answer.start === null) {
      box.append(element("p", "", "no answer found in the context"));
      return;
    }
    const context = body.context;
    const paragraph = element("p", "highlighted");
    paragraph.append(document.createTextNode(context.slice(0, answer.start)));
    paragraph.append(element("mark", "answer", context.slice(answer.start, answer.end)));
    paragraph.append(document.createTextNode(context.slice(answer.end)));
    const line = element("p", "", "answer: ");
    line.append(element("b", "", answer.answer));
    line.append(document.createTextNode(` (probability ${answer.score.toFixed(3)} among the best spans)`));
    box.append(line, paragraph);
  },

  "fill-mask"(answer) {
    let result = answer.results[0];
    if (!Array.isArray(result[0])) result = [result];
    for (const [index, candidates] of result.entries()) {
      if (result.length > 1) $("result").append(element("p", "", `[MASK] number ${index + 1}`));
      const list = element("ol", "candidates");
      for (const candidate of candidates) {
        list.append(element("li", "", `${candidate.token_str}  (${candidate.score.toFixed(3)}): ${candidate.sequence}`));
      }
      $("result").append(list);
    }
  },

  "sentence-embedding"(answer) {
    const [a, b] = answer.embeddings;
    const dot = a.reduce((sum, x, i) => sum + x * b[i], 0);
    const norm = (v) => Math.sqrt(v.reduce((sum, x) => sum + x * x, 0));
    const cosine = dot / (norm(a) * norm(b));
    $("result").append(element("p", "label", `cosine similarity ${cosine.toFixed(3)}`));
    $("result").append(element("p", "", `${answer.dimension} numbers per sentence (mean of its token vectors)`));
  },
};

document.addEventListener("DOMContentLoaded", start);
