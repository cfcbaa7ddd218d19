# Convenience wrappers; ./run.sh does the work (it needs only bash and Python 3.11).
.PHONY: demo test bench lint clean
demo:
	./run.sh demo
test:
	./run.sh test
bench:
	./run.sh bench
lint:
	./run.sh lint
clean:
	rm -rf .venv out build *.egg-info
