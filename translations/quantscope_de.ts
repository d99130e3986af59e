<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de_DE">
<context>
    <name>QObject</name>
    <message>
        <source>Browse…</source>
        <translation>Durchsuchen…</translation>
    </message>
    <message>
        <source>queued</source>
        <translation>wartend</translation>
    </message>
    <message>
        <source>running</source>
        <translation>läuft</translation>
    </message>
    <message>
        <source>finished</source>
        <translation>fertig</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>fehlgeschlagen</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>abgebrochen</translation>
    </message>
    <message>
        <source>%1 h %2 min</source>
        <translation>%1 h %2 min</translation>
    </message>
    <message>
        <source>%1 min %2 s</source>
        <translation>%1 min %2 s</translation>
    </message>
    <message>
        <source>%1 s</source>
        <translation>%1 s</translation>
    </message>
</context>
<context>
    <name>qs::gui::ExportModelDialog</name>
    <message>
        <source>Export model</source>
        <translation>Modell exportieren</translation>
    </message>
    <message>
        <source>GGUF (llama.cpp)</source>
        <translation>GGUF (llama.cpp)</translation>
    </message>
    <message>
        <source>GPTQ-packed safetensors (vLLM, transformers)</source>
        <translation>GPTQ-gepackte safetensors (vLLM, transformers)</translation>
    </message>
    <message>
        <source>Format:</source>
        <translation>Format:</translation>
    </message>
    <message>
        <source>Browse…</source>
        <translation>Durchsuchen…</translation>
    </message>
    <message>
        <source>Save to:</source>
        <translation>Speichern unter:</translation>
    </message>
    <message>
        <source>Re-quantize layers whose format has no exact type in the file (reports the error it adds)</source>
        <translation>Schichten ohne exakten Typ in der Datei neu quantisieren (meldet den zusätzlichen Fehler)</translation>
    </message>
    <message>
        <source>Quantize and export</source>
        <translation>Quantisieren und exportieren</translation>
    </message>
    <message>
        <source>Lossless when every layer uses a GGUF format (gguf_q4_0, gguf_q4_1, gguf_q8_0; fp16 / float stay F16 / F32): the file holds exactly the weights the run evaluates. The model is quantized and evaluated first, as Run does; the file is then read back and compared tensor by tensor.</source>
        <translation>Verlustfrei, wenn jede Schicht ein GGUF-Format verwendet (gguf_q4_0, gguf_q4_1, gguf_q8_0; fp16 / float bleiben F16 / F32): die Datei enthält genau die Gewichte, die der Lauf auswertet. Das Modell wird zuerst wie bei Ausführen quantisiert und ausgewertet; dann wird die Datei zurückgelesen und Tensor für Tensor verglichen.</translation>
    </message>
    <message>
        <source>Lossless when every layer uses one integer format with fp16 scales and 2, 3, 4 or 8 bits (e.g. int4-g128-f16). Writes a directory (model.safetensors, config.json with quantization_config, quantize_config.json, the tokenizer). The model is quantized and evaluated first, as Run does; the checkpoint is then read back and compared tensor by tensor.</source>
        <translation>Verlustfrei, wenn jede Schicht dasselbe Ganzzahlformat mit fp16-Skalen und 2, 3, 4 oder 8 Bit verwendet (z. B. int4-g128-f16). Schreibt ein Verzeichnis (model.safetensors, config.json mit quantization_config, quantize_config.json, den Tokenizer). Das Modell wird zuerst wie bei Ausführen quantisiert und ausgewertet; dann wird der Checkpoint zurückgelesen und Tensor für Tensor verglichen.</translation>
    </message>
    <message>
        <source>Export GGUF</source>
        <translation>GGUF exportieren</translation>
    </message>
    <message>
        <source>GGUF files (*.gguf);;All files (*)</source>
        <translation>GGUF-Dateien (*.gguf);;Alle Dateien (*)</translation>
    </message>
    <message>
        <source>Directory to create the checkpoint in</source>
        <translation>Verzeichnis, in dem der Checkpoint angelegt wird</translation>
    </message>
    <message>
        <source>by each layer&apos;s bits (Q8_0 above 4 bits, else Q4_0 / Q4_1)</source>
        <translation>nach den Bits jeder Schicht (Q8_0 über 4 Bit, sonst Q4_0 / Q4_1)</translation>
    </message>
    <message>
        <source>Re-quantize onto:</source>
        <translation>Neu quantisieren auf:</translation>
    </message>
</context>
<context>
    <name>qs::gui::MainWindow</name>
    <message>
        <source>&amp;Open model file…</source>
        <translation>Modell&amp;datei öffnen…</translation>
    </message>
    <message>
        <source>Open model &amp;directory…</source>
        <translation>Modell&amp;verzeichnis öffnen…</translation>
    </message>
    <message>
        <source>Open a Hugging Face model directory (config.json + model.safetensors)</source>
        <translation>Ein Hugging-Face-Modellverzeichnis öffnen (config.json + model.safetensors)</translation>
    </message>
    <message>
        <source>Open &amp;demo model</source>
        <translation>D&amp;emo-Modell öffnen</translation>
    </message>
    <message>
        <source>The built-in synthetic LLaMA-architecture model (no download)</source>
        <translation>Das eingebaute synthetische Modell mit LLaMA-Architektur (kein Download)</translation>
    </message>
    <message>
        <source>Open model…</source>
        <translation>Modell öffnen…</translation>
    </message>
    <message>
        <source>Demo model</source>
        <translation>Demo</translation>
    </message>
    <message>
        <source>&amp;Analyse</source>
        <translation>&amp;Analysieren</translation>
    </message>
    <message>
        <source>Per-layer sensitivity and outlier analysis on calibration text (background job)</source>
        <translation>Sensitivitäts- und Ausreißeranalyse pro Schicht auf Kalibrierungstext (Hintergrundauftrag)</translation>
    </message>
    <message>
        <source>&amp;Cancel loading / analysis</source>
        <translation>Laden / Analyse a&amp;bbrechen</translation>
    </message>
    <message>
        <source>A&amp;uto-assign</source>
        <translation>A&amp;utomatisch zuweisen</translation>
    </message>
    <message>
        <source>Choose a format per layer minimising the total error within the budget (exact multiple-choice knapsack over the analysis&apos; candidates); one undo step</source>
        <translation>Pro Schicht ein Format wählen, das den Gesamtfehler innerhalb des Budgets minimiert (exakter Multiple-Choice-Knapsack über die Kandidaten der Analyse); ein Rückgängig-Schritt</translation>
    </message>
    <message>
        <source>&amp;Run</source>
        <translation>Aus&amp;führen</translation>
    </message>
    <message>
        <source>Quantize the model with the table&apos;s recipe and measure its perplexity (background; runs queue up)</source>
        <translation>Das Modell mit dem Rezept der Tabelle quantisieren und seine Perplexität messen (im Hintergrund; Läufe werden eingereiht)</translation>
    </message>
    <message>
        <source>&amp;Import recipe…</source>
        <translation>Rezept &amp;importieren…</translation>
    </message>
    <message>
        <source>&amp;Export recipe…</source>
        <translation>Rezept &amp;exportieren…</translation>
    </message>
    <message>
        <source>&amp;Undo</source>
        <translation>&amp;Rückgängig</translation>
    </message>
    <message>
        <source>&amp;Redo</source>
        <translation>&amp;Wiederholen</translation>
    </message>
    <message>
        <source>Undo</source>
        <translation>Rückgängig</translation>
    </message>
    <message>
        <source>Redo</source>
        <translation>Wiederholen</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>&amp;Beenden</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>&amp;Datei</translation>
    </message>
    <message>
        <source>Open &amp;recent</source>
        <translation>&amp;Zuletzt geöffnet</translation>
    </message>
    <message>
        <source>&amp;Edit</source>
        <translation>&amp;Bearbeiten</translation>
    </message>
    <message>
        <source>&amp;Copy recipe</source>
        <translation>Rezept &amp;kopieren</translation>
    </message>
    <message>
        <source>Copy the table&apos;s recipe (JSON) to the clipboard</source>
        <translation>Das Rezept der Tabelle (JSON) in die Zwischenablage kopieren</translation>
    </message>
    <message>
        <source>&amp;Settings…</source>
        <translation>&amp;Einstellungen…</translation>
    </message>
    <message>
        <source>&amp;Analysis</source>
        <translation>&amp;Analyse</translation>
    </message>
    <message>
        <source>&amp;Runs</source>
        <translation>&amp;Läufe</translation>
    </message>
    <message>
        <source>Cancel &amp;all runs</source>
        <translation>&amp;Alle Läufe abbrechen</translation>
    </message>
    <message>
        <source>Re&amp;fresh history</source>
        <translation>&amp;Verlauf aktualisieren</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>&amp;Hilfe</translation>
    </message>
    <message>
        <source>&amp;About QuantScope</source>
        <translation>Über &amp;QuantScope</translation>
    </message>
    <message>
        <source>About QuantScope</source>
        <translation>Über QuantScope</translation>
    </message>
    <message>
        <source>QuantScope %1
A workbench for post-training quantization of LLMs.</source>
        <translation>QuantScope %1
Eine Werkbank für die Post-Training-Quantisierung von LLMs.</translation>
    </message>
    <message>
        <source>Import recipe</source>
        <translation>Rezept importieren</translation>
    </message>
    <message>
        <source>Recipes (*.json);;All files (*)</source>
        <translation>Rezepte (*.json);;Alle Dateien (*)</translation>
    </message>
    <message>
        <source>Export recipe</source>
        <translation>Rezept exportieren</translation>
    </message>
    <message>
        <source>Main</source>
        <translation>Hauptleiste</translation>
    </message>
    <message>
        <source> Calibration: </source>
        <translation> Kalibrierung: </translation>
    </message>
    <message>
        <source>Calibration windows drawn from the text (seeded)</source>
        <translation>Aus dem Text gezogene Kalibrierungsfenster (mit festem Seed)</translation>
    </message>
    <message>
        <source> tokens</source>
        <translation> Tokens</translation>
    </message>
    <message>
        <source>Tokens per calibration window</source>
        <translation>Tokens pro Kalibrierungsfenster</translation>
    </message>
    <message>
        <source> Budget: </source>
        <translation> Budget: </translation>
    </message>
    <message>
        <source> bits</source>
        <translation> Bit</translation>
    </message>
    <message>
        <source>Average bits per weight over the quantizable linears, scales and zero points included</source>
        <translation>Durchschnittliche Bits pro Gewicht über die quantisierbaren Linear-Schichten, Skalen und Nullpunkte eingeschlossen</translation>
    </message>
    <message>
        <source>No model</source>
        <translation>Kein Modell</translation>
    </message>
    <message>
        <source>Filter:</source>
        <translation>Filter:</translation>
    </message>
    <message>
        <source>layer name, e.g. mlp or layers.1*.q_proj</source>
        <translation>Schichtname, z. B. mlp oder layers.1*.q_proj</translation>
    </message>
    <message>
        <source>Selected rows:</source>
        <translation>Ausgewählte Zeilen:</translation>
    </message>
    <message>
        <source>Set format</source>
        <translation>Format setzen</translation>
    </message>
    <message>
        <source>Set the format on all selected rows (one undo step)</source>
        <translation>Das Format auf alle ausgewählten Zeilen setzen (ein Rückgängig-Schritt)</translation>
    </message>
    <message>
        <source>Double-click a weight format to change its bits; click a header to sort.</source>
        <translation>Doppelklick auf ein Gewichtsformat ändert seine Bits; Klick auf eine Spaltenüberschrift sortiert.</translation>
    </message>
    <message>
        <source>Sensitivity</source>
        <translation>Sensitivität</translation>
    </message>
    <message>
        <source>Outlier channels</source>
        <translation>Ausreißer-Kanäle</translation>
    </message>
    <message>
        <source>Per-layer error of runs</source>
        <translation>Fehler pro Schicht der Läufe</translation>
    </message>
    <message>
        <source>Jobs</source>
        <translation>Aufträge</translation>
    </message>
    <message>
        <source>History</source>
        <translation>Verlauf</translation>
    </message>
    <message>
        <source>Experiment log</source>
        <translation>Experiment-Protokoll</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Abbrechen</translation>
    </message>
    <message>
        <source>Cancel the running analysis</source>
        <translation>Die laufende Analyse abbrechen</translation>
    </message>
    <message>
        <source>Stop waiting for the model: it is not opened</source>
        <translation>Nicht mehr auf das Modell warten: es wird nicht geöffnet</translation>
    </message>
    <message>
        <source>no layers</source>
        <translation>keine Schichten</translation>
    </message>
    <message>
        <source>Average %1 bits/weight  ·  model %2 MB (fp16: %3 MB)</source>
        <translation>Durchschnitt %1 Bits/Gewicht  ·  Modell %2 MB (fp16: %3 MB)</translation>
    </message>
    <message>
        <source>Analysing: %1</source>
        <translation>Analyse: %1</translation>
    </message>
    <message>
        <source>Open a Hugging Face model directory</source>
        <translation>Ein Hugging-Face-Modellverzeichnis öffnen</translation>
    </message>
    <message>
        <source>Open a model file</source>
        <translation>Eine Modelldatei öffnen</translation>
    </message>
    <message>
        <source>Busy</source>
        <translation>Beschäftigt</translation>
    </message>
    <message>
        <source>Wait for the running job to finish (or cancel it) before opening a model.</source>
        <translation>Warten Sie, bis der laufende Auftrag beendet ist (oder brechen Sie ihn ab), bevor Sie ein Modell öffnen.</translation>
    </message>
    <message>
        <source>Building the demo model (synthetic, a few seconds)…</source>
        <translation>Demo-Modell wird erzeugt (synthetisch, einige Sekunden)…</translation>
    </message>
    <message>
        <source>Opening %1…</source>
        <translation>%1 wird geöffnet…</translation>
    </message>
    <message>
        <source>the tokenizer next to the model has %1 tokens but the model&apos;s vocabulary is %2</source>
        <translation>der Tokenizer neben dem Modell hat %1 Tokens, das Vokabular des Modells aber %2</translation>
    </message>
    <message>
        <source>Cannot open the model</source>
        <translation>Das Modell kann nicht geöffnet werden</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt; — %2, %3 blocks, %4 parameters, %5 quantizable linears (%6 weights)%7</source>
        <translation>&lt;b&gt;%1&lt;/b&gt; — %2, %3 Blöcke, %4 Parameter, %5 quantisierbare Linear-Schichten (%6 Gewichte)%7</translation>
    </message>
    <message>
        <source>demo model (synthetic LLaMA)</source>
        <translation>Demo-Modell (synthetisches LLaMA)</translation>
    </message>
    <message>
        <source> — &lt;i&gt;no tokenizer found&lt;/i&gt;</source>
        <translation> — &lt;i&gt;kein Tokenizer gefunden&lt;/i&gt;</translation>
    </message>
    <message>
        <source>QuantScope — %1</source>
        <translation>QuantScope — %1</translation>
    </message>
    <message>
        <source>demo model</source>
        <translation>Demo-Modell</translation>
    </message>
    <message>
        <source>Opened %1. Analyse to measure per-layer sensitivity.</source>
        <translation>%1 geöffnet. Analysieren misst die Sensitivität pro Schicht.</translation>
    </message>
    <message>
        <source>Calibration text for the analysis</source>
        <translation>Kalibrierungstext für die Analyse</translation>
    </message>
    <message>
        <source>Text (*.jsonl *.txt *.raw);;All files (*)</source>
        <translation>Text (*.jsonl *.txt *.raw);;Alle Dateien (*)</translation>
    </message>
    <message>
        <source>Open a model first.</source>
        <translation>Öffnen Sie zuerst ein Modell.</translation>
    </message>
    <message>
        <source>A job is already running.</source>
        <translation>Es läuft bereits ein Auftrag.</translation>
    </message>
    <message>
        <source>No tokenizer</source>
        <translation>Kein Tokenizer</translation>
    </message>
    <message>
        <source>The analysis needs the model&apos;s tokenizer to read calibration text:
</source>
        <translation>Die Analyse braucht den Tokenizer des Modells, um Kalibrierungstext zu lesen:
</translation>
    </message>
    <message>
        <source>No calibration text</source>
        <translation>Kein Kalibrierungstext</translation>
    </message>
    <message>
        <source>Choose a calibration text (.jsonl or text file).</source>
        <translation>Wählen Sie einen Kalibrierungstext (.jsonl- oder Textdatei).</translation>
    </message>
    <message>
        <source>Analysing: reading the calibration text…</source>
        <translation>Analyse: Kalibrierungstext wird gelesen…</translation>
    </message>
    <message>
        <source>Opening cancelled.</source>
        <translation>Öffnen abgebrochen.</translation>
    </message>
    <message>
        <source>Cancelling the analysis…</source>
        <translation>Analyse wird abgebrochen…</translation>
    </message>
    <message>
        <source>Analysis cancelled.</source>
        <translation>Analyse abgebrochen.</translation>
    </message>
    <message>
        <source>The analysis failed</source>
        <translation>Die Analyse ist fehlgeschlagen</translation>
    </message>
    <message>
        <source>Analysed %1 layers in %2 s (%3 × %4 calibration tokens). Set a budget and Auto-assign, or edit bits by hand.</source>
        <translation>%1 Schichten in %2 s analysiert (%3 × %4 Kalibrierungs-Tokens). Budget setzen und automatisch zuweisen oder Bits von Hand bearbeiten.</translation>
    </message>
    <message>
        <source>Set %1 layer(s) to %2.</source>
        <translation>%1 Schicht(en) auf %2 gesetzt.</translation>
    </message>
    <message>
        <source>Auto-assign</source>
        <translation>Automatisch zuweisen</translation>
    </message>
    <message>
        <source>Run Analyse first: the allocation needs the per-layer sensitivity.</source>
        <translation>Zuerst analysieren: die Zuweisung braucht die Sensitivität pro Schicht.</translation>
    </message>
    <message>
        <source>the report&apos;s layer &apos;%1&apos; is not in the open model</source>
        <translation>die Schicht &apos;%1&apos; des Berichts ist nicht im geöffneten Modell</translation>
    </message>
    <message>
        <source>Auto-assign at %1 bits/weight</source>
        <translation>Automatisch zuweisen mit %1 Bits/Gewicht</translation>
    </message>
    <message>
        <source>Auto-assign: %1 bits/weight within the budget of %2 (total %3 %4).</source>
        <translation>Automatische Zuweisung: %1 Bits/Gewicht innerhalb des Budgets von %2 (gesamt %3 %4).</translation>
    </message>
    <message>
        <source>Auto-assign failed</source>
        <translation>Automatische Zuweisung fehlgeschlagen</translation>
    </message>
    <message>
        <source>Import %1</source>
        <translation>%1 importieren</translation>
    </message>
    <message>
        <source>Imported %1.</source>
        <translation>%1 importiert.</translation>
    </message>
    <message>
        <source>Imported %1; warning: %2</source>
        <translation>%1 importiert; Warnung: %2</translation>
    </message>
    <message>
        <source>Cannot import the recipe</source>
        <translation>Das Rezept kann nicht importiert werden</translation>
    </message>
    <message>
        <source>%1: cannot write the recipe: %2</source>
        <translation>%1: das Rezept kann nicht geschrieben werden: %2</translation>
    </message>
    <message>
        <source>Exported the recipe to %1.</source>
        <translation>Rezept nach %1 exportiert.</translation>
    </message>
    <message>
        <source>Cannot export the recipe</source>
        <translation>Das Rezept kann nicht exportiert werden</translation>
    </message>
    <message>
        <source>Experiment:</source>
        <translation>Experiment:</translation>
    </message>
    <message>
        <source>manual</source>
        <translation>manuell</translation>
    </message>
    <message>
        <source>The curve a run belongs to in the perplexity chart (runs of one experiment are joined by a line)</source>
        <translation>Die Kurve eines Laufs im Perplexitätsdiagramm (Läufe eines Experiments werden durch eine Linie verbunden)</translation>
    </message>
    <message>
        <source>Eval text:</source>
        <translation>Evaluierungstext:</translation>
    </message>
    <message>
        <source>demo: held-out half of its text</source>
        <translation>Demo: zurückgehaltene Hälfte seines Texts</translation>
    </message>
    <message>
        <source>The text whose perplexity each run measures (.jsonl rows or plain text)</source>
        <translation>Der Text, dessen Perplexität jeder Lauf misst (.jsonl-Zeilen oder reiner Text)</translation>
    </message>
    <message>
        <source>…</source>
        <translation>…</translation>
    </message>
    <message>
        <source>Choose the evaluation text</source>
        <translation>Evaluierungstext wählen</translation>
    </message>
    <message>
        <source>Run</source>
        <translation>Ausführen</translation>
    </message>
    <message>
        <source>Sweep:</source>
        <translation>Serie:</translation>
    </message>
    <message>
        <source>auto-assign at budgets</source>
        <translation>automatisch zuweisen bei Budgets</translation>
    </message>
    <message>
        <source>uniform formats</source>
        <translation>einheitliche Formate</translation>
    </message>
    <message>
        <source>Budgets: one auto-assigned recipe per budget (needs the analysis). Formats: the table&apos;s method with one format for every layer</source>
        <translation>Budgets: ein automatisch zugewiesenes Rezept pro Budget (braucht die Analyse). Formate: die Methode der Tabelle mit einem Format für alle Schichten</translation>
    </message>
    <message>
        <source>Comma-separated budgets in bits/weight, or weight formats (int3-g64, mxfp4, …)</source>
        <translation>Kommagetrennte Budgets in Bits/Gewicht oder Gewichtsformate (int3-g64, mxfp4, …)</translation>
    </message>
    <message>
        <source>Sweep</source>
        <translation>Serie</translation>
    </message>
    <message>
        <source>Queue one run per value</source>
        <translation>Einen Lauf pro Wert einreihen</translation>
    </message>
    <message>
        <source>Evaluation text</source>
        <translation>Evaluierungstext</translation>
    </message>
    <message>
        <source>(none yet)</source>
        <translation>(noch keine)</translation>
    </message>
    <message>
        <source>Clear the list</source>
        <translation>Liste leeren</translation>
    </message>
    <message>
        <source>CPU, %1 threads; device %2: %3</source>
        <translation>CPU, %1 Threads; Gerät %2: %3</translation>
    </message>
    <message>
        <source>CPU, %1 threads</source>
        <translation>CPU, %1 Threads</translation>
    </message>
    <message>
        <source>Compute device: %1; using the CPU path.</source>
        <translation>Rechengerät: %1; der CPU-Pfad wird verwendet.</translation>
    </message>
    <message>
        <source>No OpenCL platform is installed: every operation runs on the CPU path.</source>
        <translation>Keine OpenCL-Plattform installiert: alle Operationen laufen auf dem CPU-Pfad.</translation>
    </message>
    <message>
        <source>Current: %1</source>
        <translation>Aktuell: %1</translation>
    </message>
    <message>
        <source>OpenCL is unavailable (%1): every operation runs on the CPU path.</source>
        <translation>OpenCL ist nicht verfügbar (%1): alle Operationen laufen auf dem CPU-Pfad.</translation>
    </message>
    <message>
        <source>The new experiment log is used from the next start: runs are in progress.</source>
        <translation>Das neue Experiment-Protokoll wird ab dem nächsten Start verwendet: es laufen noch Läufe.</translation>
    </message>
    <message>
        <source>Copied the recipe (JSON) to the clipboard.</source>
        <translation>Rezept (JSON) in die Zwischenablage kopiert.</translation>
    </message>
    <message>
        <source>Cannot copy the recipe</source>
        <translation>Das Rezept kann nicht kopiert werden</translation>
    </message>
    <message>
        <source>Experiment log unavailable</source>
        <translation>Experiment-Protokoll nicht verfügbar</translation>
    </message>
    <message>
        <source>Runs will not be logged this session:
%1</source>
        <translation>Läufe werden in dieser Sitzung nicht protokolliert:
%1</translation>
    </message>
    <message>
        <source>none (runs are kept for this session only)</source>
        <translation>keines (Läufe bleiben nur für diese Sitzung erhalten)</translation>
    </message>
    <message>
        <source>Cannot read the experiment log</source>
        <translation>Das Experiment-Protokoll kann nicht gelesen werden</translation>
    </message>
    <message>
        <source>Open recipe</source>
        <translation>Rezept öffnen</translation>
    </message>
    <message>
        <source>no experiment log is open</source>
        <translation>kein Experiment-Protokoll geöffnet</translation>
    </message>
    <message>
        <source>run %1 has no recipe in %2</source>
        <translation>Lauf %1 hat kein Rezept in %2</translation>
    </message>
    <message>
        <source>run %1&apos;s recipe</source>
        <translation>Rezept von Lauf %1</translation>
    </message>
    <message>
        <source>Open the recipe of run %1</source>
        <translation>Das Rezept von Lauf %1 öffnen</translation>
    </message>
    <message>
        <source>Applied the recipe of run %1 (%2).</source>
        <translation>Rezept von Lauf %1 angewendet (%2).</translation>
    </message>
    <message>
        <source>Cannot open the run&apos;s recipe</source>
        <translation>Das Rezept des Laufs kann nicht geöffnet werden</translation>
    </message>
    <message>
        <source>The run needs the model&apos;s tokenizer to read its texts:
%1</source>
        <translation>Der Lauf braucht den Tokenizer des Modells, um seine Texte zu lesen:
%1</translation>
    </message>
    <message>
        <source>This recipe needs calibration text: run Analyse on a calibration file first (its text is reused).</source>
        <translation>Dieses Rezept braucht Kalibrierungstext: zuerst mit einer Kalibrierungsdatei analysieren (ihr Text wird wiederverwendet).</translation>
    </message>
    <message>
        <source>Choose the evaluation text (Eval text) first.</source>
        <translation>Wählen Sie zuerst den Evaluierungstext.</translation>
    </message>
    <message>
        <source>The evaluation text %1 does not exist.</source>
        <translation>Der Evaluierungstext %1 existiert nicht.</translation>
    </message>
    <message>
        <source>Cannot run</source>
        <translation>Ausführen nicht möglich</translation>
    </message>
    <message>
        <source>%1: %2 bits/w (%3)</source>
        <translation>%1: %2 Bits/G (%3)</translation>
    </message>
    <message>
        <source>Give the values to sweep, e.g. 2.5, 3, 3.5 (budgets) or int3-g64, int4-g64 (formats).</source>
        <translation>Geben Sie die Werte der Serie an, z. B. 2.5, 3, 3.5 (Budgets) oder int3-g64, int4-g64 (Formate).</translation>
    </message>
    <message>
        <source>A budget sweep auto-assigns from the analysis: run Analyse first.</source>
        <translation>Eine Budget-Serie weist anhand der Analyse zu: zuerst analysieren.</translation>
    </message>
    <message>
        <source>&apos;%1&apos; is not a budget in bits per weight</source>
        <translation>&apos;%1&apos; ist kein Budget in Bits pro Gewicht</translation>
    </message>
    <message>
        <source>auto-assign at %1 bits/weight (%2 error)</source>
        <translation>automatisch zugewiesen mit %1 Bits/Gewicht (%2-Fehler)</translation>
    </message>
    <message>
        <source>budget %1 bits/w (%2)</source>
        <translation>Budget %1 Bits/G (%2)</translation>
    </message>
    <message>
        <source>&apos;%1&apos; is not a weight format (e.g. int4-g128, mxfp4)</source>
        <translation>&apos;%1&apos; ist kein Gewichtsformat (z. B. int4-g128, mxfp4)</translation>
    </message>
    <message>
        <source>auto-assign (%1 error)</source>
        <translation>automatisch zugewiesen (%1-Fehler)</translation>
    </message>
    <message>
        <source>uniform %1</source>
        <translation>einheitlich %1</translation>
    </message>
    <message>
        <source>%1: perplexity %2 at %3 bits/weight%4.</source>
        <translation>%1: Perplexität %2 bei %3 Bits/Gewicht%4.</translation>
    </message>
    <message>
        <source> (run %1 in the log)</source>
        <translation> (Lauf %1 im Protokoll)</translation>
    </message>
    <message>
        <source>The run failed</source>
        <translation>Der Lauf ist fehlgeschlagen</translation>
    </message>
    <message>
        <source>%1:
%2</source>
        <translation>%1:
%2</translation>
    </message>
    <message>
        <source>run %1: %2</source>
        <translation>Lauf %1: %2</translation>
    </message>
    <message>
        <source>float</source>
        <translation>float</translation>
    </message>
    <message>
        <source>%1 error</source>
        <translation>%1-Fehler</translation>
    </message>
    <message>
        <source>Export &amp;model…</source>
        <translation>&amp;Modell exportieren…</translation>
    </message>
    <message>
        <source>Quantize with the table&apos;s recipe and write the model for a serving stack (GGUF for llama.cpp, GPTQ-packed safetensors for vLLM/transformers), read back and checked</source>
        <translation>Mit dem Rezept der Tabelle quantisieren und das Modell für einen Serving-Stack schreiben (GGUF für llama.cpp, GPTQ-gepackte safetensors für vLLM/transformers), zurückgelesen und geprüft</translation>
    </message>
    <message>
        <source>Average bits per weight: parameter-weighted over the quantizable linears, scales and zero points included (float rows count as fp16).
Model size (MB = 10^6 bytes): the linears at their bits plus every other tensor (embeddings, lm_head, norms, biases) at fp16.</source>
        <translation>Durchschnittliche Bits pro Gewicht: nach Parametern gewichtet über die quantisierbaren Linear-Schichten, Skalen und Nullpunkte eingeschlossen (Float-Zeilen zählen als fp16).
Modellgröße (MB = 10^6 Byte): die Linear-Schichten mit ihren Bits plus alle anderen Tensoren (Embeddings, lm_head, Normen, Biases) in fp16.</translation>
    </message>
    <message>
        <source>Cannot export</source>
        <translation>Export nicht möglich</translation>
    </message>
    <message>
        <source>The export failed</source>
        <translation>Der Export ist fehlgeschlagen</translation>
    </message>
    <message>
        <source>%1:
the run finished (its results are logged) but the model was not written:
%2</source>
        <translation>%1:
der Lauf ist beendet (seine Ergebnisse sind protokolliert), aber das Modell wurde nicht geschrieben:
%2</translation>
    </message>
    <message>
        <source>Model exported</source>
        <translation>Modell exportiert</translation>
    </message>
    <message>
        <source>Auto-assign</source>
        <comment>toolbar</comment>
        <translation>Zuweisen</translation>
    </message>
    <message>
        <source>Import recipe…</source>
        <comment>toolbar</comment>
        <translation>Importieren…</translation>
    </message>
    <message>
        <source>Export recipe…</source>
        <comment>toolbar</comment>
        <translation>Exportieren…</translation>
    </message>
    <message>
        <source>Export model…</source>
        <comment>toolbar</comment>
        <translation>Modell exportieren…</translation>
    </message>
    <message>
        <source>Open a .safetensors file (config.json beside it), a llama2.c .bin or a GGUF file</source>
        <translation>Eine .safetensors-Datei (mit config.json daneben), eine llama2.c-.bin oder eine GGUF-Datei öffnen</translation>
    </message>
    <message>
        <source>Checkpoints (*.safetensors *.bin *.gguf);;All files (*)</source>
        <translation>Checkpoints (*.safetensors *.bin *.gguf);;Alle Dateien (*)</translation>
    </message>
    <message>
        <source>Weight format to set on every selected row: pick one or type any format name (e.g. int3-sym-g64, mxfp4, gguf_q4_0, int4-g128-f16)</source>
        <translation>Gewichtsformat für alle ausgewählten Zeilen: eines wählen oder einen beliebigen Formatnamen eingeben (z. B. int3-sym-g64, mxfp4, gguf_q4_0, int4-g128-f16)</translation>
    </message>
    <message>
        <source>&apos;%1&apos; is not a weight format (e.g. int4-g128, int3-sym-g64, mxfp4, gguf_q4_0, int4-g128-f16)</source>
        <translation>&apos;%1&apos; ist kein Gewichtsformat (z. B. int4-g128, int3-sym-g64, mxfp4, gguf_q4_0, int4-g128-f16)</translation>
    </message>
    <message>
        <source>&apos;%1&apos; cannot be set on a layer (integer widths are 2 to 8 bits)</source>
        <translation>&apos;%1&apos; kann nicht auf eine Schicht gesetzt werden (Ganzzahlbreiten sind 2 bis 8 Bit)</translation>
    </message>
    <message>
        <source>The experiment log could not record the analysis: %1</source>
        <translation>Das Experiment-Protokoll konnte die Analyse nicht aufzeichnen: %1</translation>
    </message>
    <message>
        <source>report %1 of %2</source>
        <translation>Bericht %1 in %2</translation>
    </message>
    <message>
        <source>Restored the analysis of %1 from the experiment log (report %2, %3 × %4 calibration tokens); Analyse to redo it.</source>
        <translation>Analyse vom %1 aus dem Experiment-Protokoll wiederhergestellt (Bericht %2, %3 × %4 Kalibrierungs-Tokens); Analysieren wiederholt sie.</translation>
    </message>
    <message>
        <source>The analysis in the experiment log could not be restored: %1</source>
        <translation>Die Analyse im Experiment-Protokoll konnte nicht wiederhergestellt werden: %1</translation>
    </message>
    <message>
        <source>Set &amp;method of selected rows</source>
        <translation>&amp;Methode der ausgewählten Zeilen setzen</translation>
    </message>
    <message>
        <source>mgptq: widths mixed per column group at the row&apos;s current bits per weight; none: keep the layer in float</source>
        <translation>mgptq: Breiten pro Spaltengruppe gemischt bei den aktuellen Bits pro Gewicht der Zeile; none: die Schicht in Float belassen</translation>
    </message>
    <message>
        <source>Set method</source>
        <translation>Methode setzen</translation>
    </message>
    <message>
        <source>Select the layers first.</source>
        <translation>Wählen Sie zuerst die Schichten aus.</translation>
    </message>
    <message>
        <source>no rows selected</source>
        <translation>keine Zeilen ausgewählt</translation>
    </message>
    <message>
        <source>Set %1 layer(s) to method %2.</source>
        <translation>%1 Schicht(en) auf Methode %2 gesetzt.</translation>
    </message>
    <message>
        <source>none (keep in float)</source>
        <translation>none (in Float belassen)</translation>
    </message>
    <message>
        <source>%1 already exists and is not an empty directory; choose a new directory for the checkpoint.</source>
        <translation>%1 existiert bereits und ist kein leeres Verzeichnis; wählen Sie ein neues Verzeichnis für den Checkpoint.</translation>
    </message>
    <message>
        <source>%1 is a directory; give the .gguf file to write.</source>
        <translation>%1 ist ein Verzeichnis; geben Sie die zu schreibende .gguf-Datei an.</translation>
    </message>
    <message>
        <source>Export model</source>
        <translation>Modell exportieren</translation>
    </message>
    <message>
        <source>%1 exists. Replace it when the export is written?</source>
        <translation>%1 existiert. Beim Schreiben des Exports ersetzen?</translation>
    </message>
    <message>
        <source>No GGUF type stores these layers exactly as the table plans them: %1.
Use gguf_q8_0, gguf_q4_0, gguf_q4_1, mxfp4 or fp16 for them, or tick Re-quantize in the export dialog.</source>
        <translation>Kein GGUF-Typ speichert diese Schichten exakt so, wie die Tabelle sie plant: %1.
Verwenden Sie für sie gguf_q8_0, gguf_q4_0, gguf_q4_1, mxfp4 oder fp16, oder kreuzen Sie im Exportdialog „Neu quantisieren“ an.</translation>
    </message>
    <message>
        <source>A GPTQ-packed checkpoint cannot hold this recipe: %1.</source>
        <translation>Ein GPTQ-gepackter Checkpoint kann dieses Rezept nicht aufnehmen: %1.</translation>
    </message>
    <message>
        <source>%1 is already quantized (%2): the table keeps its weights as loaded (method none), so Run evaluates it as it is; set formats or methods to quantize it again.</source>
        <translation>%1 ist bereits quantisiert (%2): die Tabelle belässt die Gewichte wie geladen (Methode none), Ausführen wertet es also unverändert aus; setzen Sie Formate oder Methoden, um es erneut zu quantisieren.</translation>
    </message>
</context>
<context>
    <name>qs::gui::RunQueue</name>
    <message>
        <source>cancelled before it started</source>
        <translation>abgebrochen, bevor er begann</translation>
    </message>
    <message>
        <source>The experiment log could not record the run &apos;%1&apos;: %2</source>
        <translation>Das Experiment-Protokoll konnte den Lauf &apos;%1&apos; nicht aufzeichnen: %2</translation>
    </message>
    <message>
        <source>The experiment log could not record the end of run %1: %2</source>
        <translation>Das Experiment-Protokoll konnte das Ende von Lauf %1 nicht aufzeichnen: %2</translation>
    </message>
    <message>
        <source>ppl %1 at %2 bits/weight</source>
        <translation>PPL %1 bei %2 Bits/Gewicht</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>abgebrochen</translation>
    </message>
    <message>
        <source>%1; the export failed: %2</source>
        <translation>%1; der Export ist fehlgeschlagen: %2</translation>
    </message>
    <message>
        <source>%1; written and read back: %2</source>
        <translation>%1; geschrieben und zurückgelesen: %2</translation>
    </message>
</context>
<context>
    <name>qs::gui::SettingsDialog</name>
    <message>
        <source>QuantScope settings</source>
        <translation>QuantScope-Einstellungen</translation>
    </message>
    <message>
        <source>auto: per operation, whichever is faster on this device</source>
        <translation>auto: pro Operation, was auf diesem Gerät schneller ist</translation>
    </message>
    <message>
        <source>OpenCL: every operation on the OpenCL device</source>
        <translation>OpenCL: alle Operationen auf dem OpenCL-Gerät</translation>
    </message>
    <message>
        <source>CPU only</source>
        <translation>nur CPU</translation>
    </message>
    <message>
        <source>Compute:</source>
        <translation>Berechnung:</translation>
    </message>
    <message>
        <source>default (QUANTSCOPE_OPENCL_DEVICE, else the first GPU)</source>
        <translation>Standard (QUANTSCOPE_OPENCL_DEVICE, sonst die erste GPU)</translation>
    </message>
    <message>
        <source>%1 (not present)</source>
        <translation>%1 (nicht vorhanden)</translation>
    </message>
    <message>
        <source>OpenCL device:</source>
        <translation>OpenCL-Gerät:</translation>
    </message>
    <message>
        <source>all (%1)</source>
        <translation>alle (%1)</translation>
    </message>
    <message>
        <source>CPU threads:</source>
        <translation>CPU-Threads:</translation>
    </message>
    <message>
        <source>Text (*.jsonl *.txt *.raw);;All files (*)</source>
        <translation>Text (*.jsonl *.txt *.raw);;Alle Dateien (*)</translation>
    </message>
    <message>
        <source>none: ask when analysing</source>
        <translation>keiner: beim Analysieren fragen</translation>
    </message>
    <message>
        <source>Calibration text:</source>
        <translation>Kalibrierungstext:</translation>
    </message>
    <message>
        <source>Default calibration text</source>
        <translation>Standard-Kalibrierungstext</translation>
    </message>
    <message>
        <source>none</source>
        <translation>keiner</translation>
    </message>
    <message>
        <source>Evaluation text:</source>
        <translation>Evaluierungstext:</translation>
    </message>
    <message>
        <source>Default evaluation text</source>
        <translation>Standard-Evaluierungstext</translation>
    </message>
    <message>
        <source>Experiment log:</source>
        <translation>Experiment-Protokoll:</translation>
    </message>
    <message>
        <source>Experiment log (SQLite)</source>
        <translation>Experiment-Protokoll (SQLite)</translation>
    </message>
    <message>
        <source>SQLite (*.sqlite *.db);;All files (*)</source>
        <translation>SQLite (*.sqlite *.db);;Alle Dateien (*)</translation>
    </message>
    <message>
        <source>The compute device, threads and experiment log apply at once; they are kept for the next start.</source>
        <translation>Rechengerät, Threads und Experiment-Protokoll gelten sofort und bleiben für den nächsten Start erhalten.</translation>
    </message>
</context>
<context>
    <name>qs::views::BitsEditor</name>
    <message>
        <source> bit</source>
        <translation> Bit</translation>
    </message>
    <message>
        <source>Weight bit width (2–8); the group size is kept</source>
        <translation>Bitbreite der Gewichte (2–8); die Gruppengröße bleibt erhalten</translation>
    </message>
</context>
<context>
    <name>qs::views::HistoryView</name>
    <message>
        <source>Model:</source>
        <translation>Modell:</translation>
    </message>
    <message>
        <source>Show the runs of one model</source>
        <translation>Die Läufe eines Modells anzeigen</translation>
    </message>
    <message>
        <source>Refresh</source>
        <translation>Aktualisieren</translation>
    </message>
    <message>
        <source>Read the experiment log again (runs of other processes, e.g. the CLI, appear)</source>
        <translation>Das Experiment-Protokoll neu lesen (Läufe anderer Prozesse, z. B. der CLI, erscheinen)</translation>
    </message>
    <message>
        <source>Open recipe</source>
        <translation>Rezept öffnen</translation>
    </message>
    <message>
        <source>Apply the selected run&apos;s recipe to the layer table (one undo step); select several runs to compare their per-layer errors</source>
        <translation>Das Rezept des ausgewählten Laufs auf die Schichttabelle anwenden (ein Rückgängig-Schritt); mehrere Läufe auswählen, um ihre Fehler pro Schicht zu vergleichen</translation>
    </message>
    <message>
        <source>all models (%1 runs)</source>
        <translation>alle Modelle (%1 Läufe)</translation>
    </message>
    <message>
        <source>Experiment log: %1</source>
        <translation>Experiment-Protokoll: %1</translation>
    </message>
    <message>
        <source>Open exported model (none)</source>
        <translation>Exportiertes Modell öffnen (keines)</translation>
    </message>
    <message>
        <source>Open exported model %1</source>
        <translation>Exportiertes Modell %1 öffnen</translation>
    </message>
</context>
<context>
    <name>qs::views::JobListModel</name>
    <message>
        <source>Run</source>
        <translation>Lauf</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>Status</translation>
    </message>
    <message>
        <source>Progress</source>
        <translation>Fortschritt</translation>
    </message>
    <message>
        <source>Elapsed</source>
        <translation>Vergangen</translation>
    </message>
    <message>
        <source>Remaining</source>
        <translation>Verbleibend</translation>
    </message>
    <message>
        <source>Stage / result</source>
        <translation>Phase / Ergebnis</translation>
    </message>
    <message>
        <source>cancelling…</source>
        <translation>wird abgebrochen…</translation>
    </message>
    <message>
        <source>waiting for the runs before it</source>
        <translation>wartet auf die Läufe davor</translation>
    </message>
    <message>
        <source>starting</source>
        <translation>startet</translation>
    </message>
</context>
<context>
    <name>qs::views::JobPanel</name>
    <message>
        <source>Cancel selected</source>
        <translation>Auswahl abbrechen</translation>
    </message>
    <message>
        <source>Stop the selected runs: a running one stops at its next checkpoint, a queued one never starts</source>
        <translation>Die ausgewählten Läufe stoppen: ein laufender stoppt am nächsten Haltepunkt, ein wartender startet nie</translation>
    </message>
    <message>
        <source>Clear ended</source>
        <translation>Beendete entfernen</translation>
    </message>
</context>
<context>
    <name>qs::views::LayerErrorChart</name>
    <message>
        <source>%1
%2: not in this run</source>
        <translation>%1
%2: nicht in diesem Lauf</translation>
    </message>
    <message>
        <source>
relative output error %1</source>
        <translation>
relativer Ausgabefehler %1</translation>
    </message>
    <message>
        <source>
relative output error: not measured (no calibration data)</source>
        <translation>
relativer Ausgabefehler: nicht gemessen (keine Kalibrierungsdaten)</translation>
    </message>
    <message>
        <source>
%1 bits/weight</source>
        <translation>
%1 Bits/Gewicht</translation>
    </message>
    <message>
        <source>all %1 layers</source>
        <translation>alle %1 Schichten</translation>
    </message>
    <message>
        <source>%1 of %2 layers</source>
        <translation>%1 von %2 Schichten</translation>
    </message>
    <message>
        <source>%1 of &quot;%2&quot;</source>
        <translation>%1 von „%2“</translation>
    </message>
    <message>
        <source>No error for %1 (not measured: run without calibration data, or 0); no bar drawn</source>
        <translation>Kein Fehler für %1 (nicht gemessen: Lauf ohne Kalibrierungsdaten, oder 0); kein Balken gezeichnet</translation>
    </message>
    <message>
        <source>Per-layer output error (no run selected)</source>
        <translation>Ausgabefehler pro Schicht (kein Lauf ausgewählt)</translation>
    </message>
    <message>
        <source>Per-layer relative output error tr(ΔW H ΔWᵀ) / tr(W H Wᵀ) and bits per weight</source>
        <translation>Relativer Ausgabefehler pro Schicht tr(ΔW H ΔWᵀ) / tr(W H Wᵀ) und Bits pro Gewicht</translation>
    </message>
    <message>
        <source>run %1</source>
        <translation>Lauf %1</translation>
    </message>
    <message>
        <source> (no error measured)</source>
        <translation> (kein Fehler gemessen)</translation>
    </message>
    <message>
        <source>Bits per weight, incl. scales (right axis; same in every run)</source>
        <translation>Bits pro Gewicht inkl. Skalen (rechte Achse; in jedem Lauf gleich)</translation>
    </message>
    <message>
        <source>Bits per weight, incl. scales (right axis)</source>
        <translation>Bits pro Gewicht inkl. Skalen (rechte Achse)</translation>
    </message>
    <message>
        <source>Layer (block.linear, model order)</source>
        <translation>Schicht (Block.Linear, Modellreihenfolge)</translation>
    </message>
    <message>
        <source>Relative output error (log)</source>
        <translation>Relativer Ausgabefehler (log)</translation>
    </message>
    <message>
        <source>Bits / weight (lines, run colours)</source>
        <translation>Bits / Gewicht (Linien, Farben der Läufe)</translation>
    </message>
    <message>
        <source>Bits / weight</source>
        <translation>Bits / Gewicht</translation>
    </message>
</context>
<context>
    <name>qs::views::LayerTableModel</name>
    <message>
        <source>block-output error</source>
        <translation>Block-Ausgabefehler</translation>
    </message>
    <message>
        <source>relative predicted error</source>
        <translation>relativer vorhergesagter Fehler</translation>
    </message>
    <message>
        <source>%1 per candidate (%2):</source>
        <translation>%1 pro Kandidat (%2):</translation>
    </message>
    <message>
        <source>
  %1 (%2 bits/weight): %3</source>
        <translation>
  %1 (%2 Bits/Gewicht): %3</translation>
    </message>
    <message>
        <source>activations: max/median of per-channel max|x| = %1
weights: max/median of per-column max|w| = %2</source>
        <translation>Aktivierungen: Max./Median der kanalweisen max|x| = %1
Gewichte: Max./Median der spaltenweisen max|w| = %2</translation>
    </message>
    <message>
        <source>
largest input channel: %1 (max|x| = %2)</source>
        <translation>
größter Eingangskanal: %1 (max|x| = %2)</translation>
    </message>
    <message>
        <source>Double-click to set the bit width (2–8); the group size is kept.</source>
        <translation>Doppelklick setzt die Bitbreite (2–8); die Gruppengröße bleibt erhalten.</translation>
    </message>
    <message>
        <source>Block</source>
        <translation>Block</translation>
    </message>
    <message>
        <source>Layer</source>
        <translation>Schicht</translation>
    </message>
    <message>
        <source>Shape (out×in)</source>
        <translation>Form (out×in)</translation>
    </message>
    <message>
        <source>Params</source>
        <translation>Parameter</translation>
    </message>
    <message>
        <source>Sensitivity</source>
        <translation>Sensitivität</translation>
    </message>
    <message>
        <source>Error @ format</source>
        <translation>Fehler @ Format</translation>
    </message>
    <message>
        <source>Outlier</source>
        <translation>Ausreißer</translation>
    </message>
    <message>
        <source>Weight format</source>
        <translation>Gewichtsformat</translation>
    </message>
    <message>
        <source>Bits/weight</source>
        <translation>Bits/Gewicht</translation>
    </message>
    <message>
        <source>Activations</source>
        <translation>Aktivierungen</translation>
    </message>
    <message>
        <source>Method</source>
        <translation>Methode</translation>
    </message>
    <message>
        <source>block-output error (else relative predicted error)</source>
        <translation>Block-Ausgabefehler (sonst relativer vorhergesagter Fehler)</translation>
    </message>
    <message>
        <source>Decoder block index</source>
        <translation>Index des Decoder-Blocks</translation>
    </message>
    <message>
        <source>The linear&apos;s name in the checkpoint</source>
        <translation>Name der Linear-Schicht im Checkpoint</translation>
    </message>
    <message>
        <source>Weight matrix W [out, in]; input channel = column</source>
        <translation>Gewichtsmatrix W [out, in]; Eingangskanal = Spalte</translation>
    </message>
    <message>
        <source>Weights in the matrix (out × in)</source>
        <translation>Gewichte in der Matrix (out × in)</translation>
    </message>
    <message>
        <source>Sensitivity: the %1 of the reference candidate %2 (dimensionless).
Block-output error = mean squared change of the block&apos;s output when only this layer is quantized, relative to the change the block makes to its input;
relative predicted error = tr(ΔW H ΔWᵀ) / tr(W H Wᵀ). Reference: the report&apos;s 3-bit candidate with the fewest bits/weight. Empty until Analyse has run.</source>
        <translation>Sensitivität: der %1 des Referenzkandidaten %2 (dimensionslos).
Block-Ausgabefehler = mittlere quadratische Änderung der Blockausgabe, wenn nur diese Schicht quantisiert wird, relativ zur Änderung, die der Block an seiner Eingabe bewirkt;
relativer vorhergesagter Fehler = tr(ΔW H ΔWᵀ) / tr(W H Wᵀ). Referenz: der 3-Bit-Kandidat des Berichts mit den wenigsten Bits/Gewicht. Leer, bis die Analyse gelaufen ist.</translation>
    </message>
    <message>
        <source>(3-bit)</source>
        <translation>(3 Bit)</translation>
    </message>
    <message>
        <source>The %1 of the row&apos;s current weight format (empty when that format is not a candidate of the analysis)</source>
        <translation>Der %1 des aktuellen Gewichtsformats der Zeile (leer, wenn dieses Format kein Kandidat der Analyse ist)</translation>
    </message>
    <message>
        <source>Activation outlier score: max / median over input channels of the per-channel max |x|</source>
        <translation>Ausreißer-Wert der Aktivierungen: Max. / Median der kanalweisen max |x| über die Eingangskanäle</translation>
    </message>
    <message>
        <source>Weight format (editable): integer grid with bits and group size, or an MX format</source>
        <translation>Gewichtsformat (bearbeitbar): Integer-Raster mit Bits und Gruppengröße oder ein MX-Format</translation>
    </message>
    <message>
        <source>Storage bits per weight including scales and zero points (float rows: fp16)</source>
        <translation>Speicher-Bits pro Gewicht inklusive Skalen und Nullpunkte (float-Zeilen: fp16)</translation>
    </message>
    <message>
        <source>Dynamic quantization of the layer&apos;s input (float = none)</source>
        <translation>Dynamische Quantisierung der Eingabe der Schicht (float = keine)</translation>
    </message>
    <message>
        <source>Quantization method steps (transforms + rounding)</source>
        <translation>Schritte der Quantisierungsmethode (Transformationen + Rundung)</translation>
    </message>
    <message>
        <source>Set %1 to %2</source>
        <translation>%1 auf %2 setzen</translation>
    </message>
    <message>
        <source>Set %1 layer(s) to %2</source>
        <translation>%1 Schicht(en) auf %2 setzen</translation>
    </message>
    <message>
        <source>row %1 does not exist</source>
        <translation>Zeile %1 existiert nicht</translation>
    </message>
    <message>
        <source>Set %1 layer(s) to method %2</source>
        <translation>%1 Schicht(en) auf Methode %2 setzen</translation>
    </message>
</context>
<context>
    <name>qs::views::OutlierHeatmap</name>
    <message>
        <source>max |x| per channel (input units, log scale)</source>
        <translation>max |x| pro Kanal (Eingabeeinheiten, log. Skala)</translation>
    </message>
    <message>
        <source>mean |x| per channel (input units, log scale)</source>
        <translation>mittleres |x| pro Kanal (Eingabeeinheiten, log. Skala)</translation>
    </message>
    <message>
        <source>kurtosis of x (3 = Gaussian, log scale)</source>
        <translation>Kurtosis von x (3 = Gauß, log. Skala)</translation>
    </message>
    <message>
        <source>max |w| per input column (log scale)</source>
        <translation>max |w| pro Eingangsspalte (log. Skala)</translation>
    </message>
    <message>
        <source>Activation max |x|</source>
        <translation>Aktivierung max |x|</translation>
    </message>
    <message>
        <source>Activation mean |x|</source>
        <translation>Aktivierung mittleres |x|</translation>
    </message>
    <message>
        <source>Activation kurtosis</source>
        <translation>Aktivierung Kurtosis</translation>
    </message>
    <message>
        <source>Weight max |w|</source>
        <translation>Gewicht max |w|</translation>
    </message>
    <message>
        <source>Outlier channels</source>
        <translation>Ausreißer-Kanäle</translation>
    </message>
    <message>
        <source>Per-input-channel statistic of the sensitivity report shown as colour</source>
        <translation>Statistik pro Eingangskanal aus dem Sensitivitätsbericht, als Farbe dargestellt</translation>
    </message>
    <message>
        <source>Only layers reading the hidden state</source>
        <translation>Nur Schichten, die den Hidden State lesen</translation>
    </message>
    <message>
        <source>q, k, v, gate, up (fc1): the linears fed by the normalized residual stream</source>
        <translation>q, k, v, gate, up (fc1): die Linear-Schichten, die vom normalisierten Residualstrom gespeist werden</translation>
    </message>
    <message>
        <source>The sensitivity report has no layers.</source>
        <translation>Der Sensitivitätsbericht enthält keine Schichten.</translation>
    </message>
    <message>
        <source>No sensitivity report yet.
Run Analyse to see the outlier channels (layers × input channels).</source>
        <translation>Noch kein Sensitivitätsbericht.
Analysieren zeigt die Ausreißer-Kanäle (Schichten × Eingangskanäle).</translation>
    </message>
    <message>
        <source>This report has no per-channel vectors (it was analysed with channel vectors off, e.g. quantscope-cli sensitivity --no-channel-vectors).
Re-run the analysis with them to see the heatmap.</source>
        <translation>Dieser Bericht hat keine Vektoren pro Kanal (er wurde ohne Kanalvektoren analysiert, z. B. quantscope-cli sensitivity --no-channel-vectors).
Analyse mit ihnen wiederholen, um die Heatmap zu sehen.</translation>
    </message>
    <message>
        <source>%1 input channels: %2</source>
        <translation>%1 Eingangskanäle: %2</translation>
    </message>
    <message>
        <source>No layer of this model reads the hidden state directly.</source>
        <translation>Keine Schicht dieses Modells liest den Hidden State direkt.</translation>
    </message>
    <message>
        <source>No positive finite value of %1 in this report: nothing to show on a log scale.</source>
        <translation>Kein positiver endlicher Wert von %1 in diesem Bericht: auf einer log. Skala gibt es nichts zu zeigen.</translation>
    </message>
    <message>
        <source>Input channel (index)</source>
        <translation>Eingangskanal (Index)</translation>
    </message>
    <message>
        <source>no value / ≤ 0</source>
        <translation>kein Wert / ≤ 0</translation>
    </message>
    <message>
        <source>top %1 activation outliers of the model</source>
        <translation>die %1 größten Aktivierungs-Ausreißer des Modells</translation>
    </message>
    <message>
        <source>
channel %1 of %2</source>
        <translation>
Kanal %1 von %2</translation>
    </message>
    <message>
        <source>  (this pixel covers channels %1–%2%3; the largest is shown)</source>
        <translation>  (dieses Pixel umfasst die Kanäle %1–%2%3; der größte wird gezeigt)</translation>
    </message>
    <message>
        <source> of %1 rows</source>
        <translation> von %1 Zeilen</translation>
    </message>
    <message>
        <source>  (%1× the layer&apos;s median)</source>
        <translation>  (%1× der Median der Schicht)</translation>
    </message>
    <message>
        <source>
activation max |x| %1%2
activation mean |x| %3
activation kurtosis %4</source>
        <translation>
Aktivierung max |x| %1%2
Aktivierung mittleres |x| %3
Aktivierung Kurtosis %4</translation>
    </message>
    <message>
        <source>
activations: no per-channel values</source>
        <translation>
Aktivierungen: keine Werte pro Kanal</translation>
    </message>
    <message>
        <source>
weight max |w| %1%2</source>
        <translation>
Gewicht max |w| %1%2</translation>
    </message>
    <message>
        <source>
weight max |w|: </source>
        <translation>
Gewicht max |w|: </translation>
    </message>
    <message>
        <source>
top outlier #%1 of the model</source>
        <translation>
größter Ausreißer Nr. %1 des Modells</translation>
    </message>
</context>
<context>
    <name>qs::views::PerplexityChart</name>
    <message>
        <source>Perplexity vs bits (no runs yet: Run, Sweep, or tick runs in History)</source>
        <translation>Perplexität über Bits (noch keine Läufe: Ausführen, Serie oder Läufe im Verlauf ankreuzen)</translation>
    </message>
    <message>
        <source>Perplexity vs average bits per weight</source>
        <translation>Perplexität über durchschnittliche Bits pro Gewicht</translation>
    </message>
    <message>
        <source>Average bits per weight (incl. scales and zeros)</source>
        <translation>Durchschnittliche Bits pro Gewicht (inkl. Skalen und Nullpunkte)</translation>
    </message>
    <message>
        <source>Perplexity (log scale; lower is better)</source>
        <translation>Perplexität (log. Skala; niedriger ist besser)</translation>
    </message>
    <message>
        <source>Perplexity (lower is better)</source>
        <translation>Perplexität (niedriger ist besser)</translation>
    </message>
    <message>
        <source>%1
%2
%3 bits/weight, perplexity %4</source>
        <translation>%1
%2
%3 Bits/Gewicht, Perplexität %4</translation>
    </message>
    <message>
        <source>float: %1</source>
        <translation>float: %1</translation>
    </message>
    <message>
        <source>%1: %2</source>
        <translation>%1: %2</translation>
    </message>
    <message>
        <source>Predicted total %1 (log)</source>
        <translation>Vorhergesagter Gesamt-%1 (log)</translation>
    </message>
    <message>
        <source>predicted frontier (right)</source>
        <translation>vorhergesagte Front (rechts)</translation>
    </message>
</context>
<context>
    <name>qs::views::RunHistoryModel</name>
    <message>
        <source>Tick runs to draw them in the perplexity chart</source>
        <translation>Läufe ankreuzen, um sie im Perplexitätsdiagramm zu zeichnen</translation>
    </message>
    <message>
        <source>Show</source>
        <translation>Zeigen</translation>
    </message>
    <message>
        <source>Run</source>
        <translation>Lauf</translation>
    </message>
    <message>
        <source>Started</source>
        <translation>Gestartet</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>Modell</translation>
    </message>
    <message>
        <source>Experiment</source>
        <translation>Experiment</translation>
    </message>
    <message>
        <source>Recipe</source>
        <translation>Rezept</translation>
    </message>
    <message>
        <source>Bits/w</source>
        <translation>Bits/G</translation>
    </message>
    <message>
        <source>PPL</source>
        <translation>PPL</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>Status</translation>
    </message>
    <message>
        <source>Time</source>
        <translation>Dauer</translation>
    </message>
    <message>
        <source>run %1 (%2) of %3
recipe: %4
device: %5</source>
        <translation>Lauf %1 (%2) von %3
Rezept: %4
Gerät: %5</translation>
    </message>
    <message>
        <source>
error: %1</source>
        <translation>
Fehler: %1</translation>
    </message>
    <message>
        <source>
%1: ppl %2</source>
        <translation>
%1: PPL %2</translation>
    </message>
    <message>
        <source>
exported: %1</source>
        <translation>
exportiert: %1</translation>
    </message>
    <message>
        <source>
export to %1 failed: %2</source>
        <translation>
Export nach %1 fehlgeschlagen: %2</translation>
    </message>
    <message>
        <source>%1 · %2 written</source>
        <translation>%1 · %2 geschrieben</translation>
    </message>
    <message>
        <source>%1 · export failed</source>
        <translation>%1 · Export fehlgeschlagen</translation>
    </message>
</context>
<context>
    <name>qs::views::SensitivityChart</name>
    <message>
        <source>%1
format %2, %3 bits/weight</source>
        <translation>%1
Format %2, %3 Bits/Gewicht</translation>
    </message>
    <message>
        <source>
sensitivity (%1 at %2): %3</source>
        <translation>
Sensitivität (%1 bei %2): %3</translation>
    </message>
    <message>
        <source>
error at the current format: %1</source>
        <translation>
Fehler beim aktuellen Format: %1</translation>
    </message>
    <message>
        <source>No model loaded</source>
        <translation>Kein Modell geladen</translation>
    </message>
    <message>
        <source>Sensitivity (left axis)</source>
        <translation>Sensitivität (linke Achse)</translation>
    </message>
    <message>
        <source>Sensitivity (not measured yet)</source>
        <translation>Sensitivität (noch nicht gemessen)</translation>
    </message>
    <message>
        <source>Weight bits per parameter, incl. scales (right axis)</source>
        <translation>Gewichts-Bits pro Parameter inkl. Skalen (rechte Achse)</translation>
    </message>
    <message>
        <source>Layer (block.linear, model order)</source>
        <translation>Schicht (Block.Linear, Modellreihenfolge)</translation>
    </message>
    <message>
        <source>Sensitivity (error ratio%1)</source>
        <translation>Sensitivität (Fehlerverhältnis%1)</translation>
    </message>
    <message>
        <source>, log</source>
        <translation>, log</translation>
    </message>
    <message>
        <source>Bits / weight</source>
        <translation>Bits / Gewicht</translation>
    </message>
    <message>
        <source>Sensitivity per layer (run Analyse to measure it) and bits per weight</source>
        <translation>Sensitivität pro Schicht (Analysieren misst sie) und Bits pro Gewicht</translation>
    </message>
    <message>
        <source>Sensitivity per layer (%1 at %2) and bits per weight</source>
        <translation>Sensitivität pro Schicht (%1 bei %2) und Bits pro Gewicht</translation>
    </message>
</context>
</TS>
