// The console's own behaviour, loaded as a file (the CSP allows no inline script).
// Links with data-seek="SECONDS" data-player="ID" jump that player to the time and play it:
// a flagged range, a manual region, a mute range.
document.addEventListener("click", (event) => {
  const link = event.target.closest("[data-seek]");
  if (!link) return;
  const player = document.getElementById(link.dataset.player);
  if (!player) return;
  event.preventDefault();
  player.scrollIntoView({ block: "center" });
  const go = () => { player.currentTime = parseFloat(link.dataset.seek); player.play(); };
  if (player.readyState >= 1) go(); else { player.preload = "metadata"; player.addEventListener("loadedmetadata", go, { once: true }); player.load(); }
});
