// Typeset the maths that pymdownx.arithmatex wraps (generic mode: \( \) inline, \[ \] display) with the
// KaTeX bundled in docs/assets/katex. document$ is Material's page observable: it also fires after
// instant navigation, so pages reached without a full reload are typeset too.
function losskitRenderMath() {
  document.querySelectorAll(".arithmatex").forEach(function (element) {
    renderMathInElement(element, {
      delimiters: [
        { left: "\\(", right: "\\)", display: false },
        { left: "\\[", right: "\\]", display: true },
      ],
      throwOnError: false,
    });
  });
}
if (typeof document$ !== "undefined") {
  document$.subscribe(losskitRenderMath);
} else {
  document.addEventListener("DOMContentLoaded", losskitRenderMath);
}
