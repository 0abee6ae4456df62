from shiny import App, render, ui

app_ui = ui.page_fluid(
    ui.h1("Hello from Shiny"), ui.input_text("name", "Name", "world"), ui.output_text("greeting")
)


def server(input, output, session):
    @render.text
    def greeting():
        return f"HELLO {input.name().upper()}"


app = App(app_ui, server)
